import { describe, expect, it } from 'vitest';
import { unknownVariableWarnings } from '../../src/config.js';
import { closestName } from '../../src/lib/closest-name.js';

describe('names in .env that are not Taskforge variables', () => {
  it('are warned about, with the closest known name', () => {
    expect(unknownVariableWarnings(['PROT'])).toEqual([
      'PROT is not a Taskforge variable; did you mean PORT?',
    ]);
    expect(unknownVariableWarnings(['DATABSE_URL', 'JWT_SECERT', 'log_level', 'ADMIN_PASS'])).toEqual([
      'DATABSE_URL is not a Taskforge variable; did you mean DATABASE_URL?',
      'JWT_SECERT is not a Taskforge variable; did you mean JWT_SECRET?',
      'log_level is not a Taskforge variable; did you mean LOG_LEVEL?',
      'ADMIN_PASS is not a Taskforge variable; did you mean ADMIN_PASSWORD?',
    ]);
  });

  it('are warned about without a suggestion when no known name is close', () => {
    expect(unknownVariableWarnings(['FAVOURITE_COLOUR', 'X'])).toEqual([
      'FAVOURITE_COLOUR is not a Taskforge variable (ignored)',
      'X is not a Taskforge variable (ignored)',
    ]);
  });

  it('leave alone the variables of the service and the names libraries read', () => {
    expect(
      unknownVariableWarnings([
        'PORT',
        'DATABASE_URL',
        'OTEL_SERVICE_NAME',
        'NODE_OPTIONS',
        'UV_THREADPOOL_SIZE',
      ]),
    ).toEqual([]);
  });
});

describe('closestName', () => {
  const names = ['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL'];
  it.each([
    ['PROT', 'PORT'],
    ['PORTT', 'PORT'],
    ['HOTS', 'HOST'],
    ['LOGLEVEL', 'LOG_LEVEL'],
    ['DATABASE_UR', 'DATABASE_URL'],
    ['DATABASE', 'DATABASE_URL'],
  ])('%s → %s', (name, expected) => {
    expect(closestName(name, names)).toBe(expected);
  });

  it.each(['AB', 'PING', 'COLOUR', 'DB_URL'])('%s → none', (name) => {
    expect(closestName(name, names)).toBeNull();
  });
});
