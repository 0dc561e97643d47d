// Answers the Cookie header it received, unchanged.
module.exports = async (context) => context.res.send(context.req.headers['cookie'] ?? '');
