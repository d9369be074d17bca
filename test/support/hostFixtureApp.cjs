// A tiny Functions app for the local host's own tests: what the app's real functions (driven in
// host.test.ts) cannot show — a timer on a fast schedule read from an app setting and the timer
// payload it gets, runOnStartup, route templates and methods the API does not use, a response
// with cookies, a body echoed back, and an app that fails while loading.
const { app } = require('@azure/functions');

if (process.env.HOST_FIXTURE_FAIL_AT_LOAD) {
  const error = new Error(process.env.HOST_FIXTURE_FAIL_AT_LOAD);
  error.name = 'ConfigError';
  throw error;
}

app.timer('fixtureScheduled', {
  schedule: '%FIXTURE_TIMER_SCHEDULE%',
  handler: (timer, context) =>
    context.log(
      JSON.stringify({ fixture: 'scheduled', isPastDue: timer.isPastDue, next: timer.scheduleStatus.next, schedule: timer.schedule }),
    ),
});

app.timer('fixtureOnStartup', {
  schedule: '0 0 0 1 1 *',
  runOnStartup: true,
  handler: (_timer, context) => context.log(JSON.stringify({ fixture: 'startup' })),
});

// Route templates beyond the real API's: catch-all, constraints, literal precedence, methods
// restricted by the registration (the API registers every method and answers 405 itself),
// admin-level auth, and a response with a status, headers and a cookie.
const echo = (request, context) => ({
  status: 200,
  jsonBody: { functionName: context.functionName, params: request.params },
});
app.http('fixtureFiles', { route: 'files/{*path}', methods: ['GET'], authLevel: 'anonymous', handler: echo });
app.http('fixtureItem', { route: 'items/{id:int}', methods: ['GET'], authLevel: 'anonymous', handler: echo });
app.http('fixtureItemLatest', { route: 'items/latest', methods: ['GET'], authLevel: 'anonymous', handler: echo });
// Echoes the body the function received: a chunked one arrives empty, as on Azure.
app.http('fixtureEcho', {
  route: 'echo',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request) => ({ jsonBody: { body: await request.text(), transferEncoding: request.headers.get('transfer-encoding') } }),
});
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
