// Answers the MD5 of the raw request body, so the caller sees whether its bytes arrived intact.
const { createHash } = require('crypto');

module.exports = async (context) => context.res.send(createHash('md5').update(context.req.bodyBinary).digest('hex'));
