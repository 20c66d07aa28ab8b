/**
 * Rows written straight into the tables, for tests that build large data sets without the API
 * (the plan and walk tests): nobody logs in as these users.
 */
export function userRow(id: string, at: string) {
  return {
    id,
    email: `${id}@example.com`,
    name: id,
    role: 'user' as const,
    disabled: 0,
    password_hash: 'not a hash: nobody logs in here',
    search_text: id,
    created_at: at,
    updated_at: at,
  };
}
