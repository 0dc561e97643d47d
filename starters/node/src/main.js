// Runs once per execution. One parameter, the context: req, res, log and error.
export default async ({ req, res, log, error }) => {
  // log() and error() end up in the execution's logs and errors; the caller never sees them.
  log(`Starter function called on ${req.path}`);
  error('Example error entry (from context.error)');

  if (req.path === '/ping') {
    // A handler must return one of the res helpers: text(), json(), binary(), redirect(), empty().
    return res.text('Pong');
  }

  return res.json({
    motto: 'Build like a team of hundreds_',
    learn: 'https://appwrite.io/docs',
    connect: 'https://appwrite.io/discord',
    getInspired: 'https://builtwith.appwrite.io',
  });
};
