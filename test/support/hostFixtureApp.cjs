// A tiny Functions app for the local host's own tests: what the smoke functions in src/ cannot
// show without slowing the real app down — a timer on a fast schedule read from an app setting,
// runOnStartup, and an app that fails while loading.
const { app } = require('@azure/functions');

if (process.env.HOST_FIXTURE_FAIL_AT_LOAD) {
  const error = new Error(process.env.HOST_FIXTURE_FAIL_AT_LOAD);
  error.name = 'ConfigError';
  throw error;
}

app.timer('fixtureScheduled', {
  schedule: '%FIXTURE_TIMER_SCHEDULE%',
  handler: (timer, context) => context.log(JSON.stringify({ fixture: 'scheduled', isPastDue: timer.isPastDue, next: timer.scheduleStatus.next })),
});

app.timer('fixtureOnStartup', {
  schedule: '0 0 0 1 1 *',
  runOnStartup: true,
  handler: (_timer, context) => context.log(JSON.stringify({ fixture: 'startup' })),
});

// Route templates beyond the smoke functions': catch-all, constraints, literal precedence,
// admin-level auth, and a response with a status, headers and a cookie.
const echo = (request, context) => ({
  status: 200,
  jsonBody: { functionName: context.functionName, params: request.params },
});
app.http('fixtureFiles', { route: 'files/{*path}', methods: ['GET'], authLevel: 'anonymous', handler: echo });
app.http('fixtureItem', { route: 'items/{id:int}', methods: ['GET'], authLevel: 'anonymous', handler: echo });
app.http('fixtureItemLatest', { route: 'items/latest', methods: ['GET'], authLevel: 'anonymous', handler: echo });
app.http('fixtureAdminOnly', { route: 'operator', methods: ['POST'], authLevel: 'admin', handler: echo });
app.http('fixtureCreated', {
  route: 'created',
  methods: ['PUT'],
  authLevel: 'anonymous',
  handler: () => ({
    status: 201,
    headers: { location: '/api/items/7' },
    cookies: [{ name: 'session', value: 'abc', path: '/', httpOnly: true, sameSite: 'Strict' }],
    body: 'made',
  }),
});
