// Answers three bytes that are not UTF-8 text: 0x00 0x0a 0xff.
module.exports = async (context) => context.res.binary(Buffer.from([0x00, 0x0a, 0xff]));
