// Swapped in for index.js by a build command (the duplicate-deployment test).
module.exports = async (context) => context.res.send('Maintenance');
