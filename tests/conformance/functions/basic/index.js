// Echoes what the function sees (environment, trigger headers, variables) as JSON, and logs the request.
// `/custom-response?code=N&body=B` answers exactly B with status N instead; `/hold?ms=N` answers after N ms
// (the emulator runs an execution at once, where Appwrite queues it: a test that needs one still running
// holds it).
const header = (context, name) => context.req.headers[name] ?? '';

module.exports = async (context) => {
  context.log('log-works');
  context.error('error-log-works');
  context.log(header(context, 'x-appwrite-user-jwt') ? 'jwt-is-valid' : 'jwt-is-invalid');

  const query = context.req.query;
  if (context.req.path === '/hold') {
    await new Promise((resolve) => setTimeout(resolve, Number(query.ms || '0')));
  }
  if (context.req.path === '/custom-response') {
    return context.res.send(query.body || '', Number(query.code || '200'));
  }

  context.log(`body-is-${context.req.body ?? ''}`);
  context.log(`custom-header-is-${header(context, 'x-custom-header')}`);
  context.log(`method-is-${(context.req.method ?? '').toLowerCase()}`);
  context.log(`path-is-${context.req.path ?? ''}`);
  context.log(`user-is-${header(context, 'x-appwrite-user-id')}`);

  const env = process.env;
  return context.res.json({
    APPWRITE_FUNCTION_ID: env.APPWRITE_FUNCTION_ID ?? '',
    APPWRITE_FUNCTION_NAME: env.APPWRITE_FUNCTION_NAME ?? '',
    APPWRITE_FUNCTION_DEPLOYMENT: env.APPWRITE_FUNCTION_DEPLOYMENT ?? '',
    APPWRITE_FUNCTION_TRIGGER: header(context, 'x-appwrite-trigger'),
    APPWRITE_FUNCTION_RUNTIME_NAME: env.APPWRITE_FUNCTION_RUNTIME_NAME,
    APPWRITE_FUNCTION_RUNTIME_VERSION: env.APPWRITE_FUNCTION_RUNTIME_VERSION,
    APPWRITE_VERSION: env.APPWRITE_VERSION ?? '',
    APPWRITE_REGION: env.APPWRITE_REGION ?? '',
    UNICODE_TEST: 'êä',
    GLOBAL_VARIABLE: env.GLOBAL_VARIABLE ?? '',
    APPWRITE_FUNCTION_EVENT: header(context, 'x-appwrite-event'),
    APPWRITE_FUNCTION_EVENT_DATA: context.req.bodyRaw ?? '',
    APPWRITE_FUNCTION_DATA: context.req.bodyRaw ?? '',
    APPWRITE_FUNCTION_USER_ID: header(context, 'x-appwrite-user-id'),
    APPWRITE_FUNCTION_JWT: header(context, 'x-appwrite-user-jwt'),
    APPWRITE_FUNCTION_PROJECT_ID: env.APPWRITE_FUNCTION_PROJECT_ID,
    APPWRITE_FUNCTION_MEMORY: env.APPWRITE_FUNCTION_MEMORY,
    APPWRITE_FUNCTION_CPUS: env.APPWRITE_FUNCTION_CPUS,
    APPWRITE_FUNCTION_EXECUTION_ID: header(context, 'x-appwrite-execution-id'),
    APPWRITE_FUNCTION_CLIENT_IP: header(context, 'x-appwrite-client-ip'),
    CUSTOM_VARIABLE: env.CUSTOM_VARIABLE,
  }, Number(query.code || '200'));
};
