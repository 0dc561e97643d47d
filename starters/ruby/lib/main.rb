# Runs once per execution. One parameter, the context: req, res, log and error.
def main(context)
  # log and error end up in the execution's logs and errors; the caller never sees them.
  context.log("Starter function called on #{context.req.path}")
  context.error('Example error entry (from context.error)')

  if context.req.path == '/ping'
    # A handler must return one of the res helpers: text, json, binary, redirect, empty.
    return context.res.text('Pong')
  end

  context.res.json({
                     'motto' => 'Build like a team of hundreds_',
                     'learn' => 'https://appwrite.io/docs',
                     'connect' => 'https://appwrite.io/discord',
                     'getInspired' => 'https://builtwith.appwrite.io'
                   })
end
