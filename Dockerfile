# syntax=docker/dockerfile:1
# Taskforge's image: the compiled service (node dist/server.js) with production dependencies only,
# run as a non-root user. The same image runs the API, `node dist/cli/worker.js` and
# `node dist/cli/migrate.js` (see docker-compose.yml and deploy/k8s/). README: "Deployment".

# Build tools for native modules (better-sqlite3, @node-rs/argon2) when no prebuilt binary fits.
FROM node:20-bookworm-slim AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Stage 1: every dependency (TypeScript is a development one), then the build into dist/.
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Stage 2: production dependencies only.
FROM toolchain AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 3: what runs. No compiler, no development dependencies, no sources.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# package.json is read at run time ("type": "module", and the version GET / reports).
COPY --chown=0:0 package.json package-lock.json ./
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
COPY --chown=0:0 deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# The data folder (the mail outbox without SMTP_URL, a SQLite file if DATABASE_URL names one) is
# the only place the service writes; the code stays owned by root and read-only to the service.
RUN mkdir -p /app/data && chown 1000:1000 /app/data && chmod 0700 /app/data
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 3000
# Liveness with node itself (the slim image has no curl): GET /health/live on PORT.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs"]
CMD ["node", "dist/server.js"]
