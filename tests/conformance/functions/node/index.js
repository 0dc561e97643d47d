module.exports = async (context) => context.res.send('OK');
