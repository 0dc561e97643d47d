// Sleeps a minute before answering, longer than any timeout the tests give it.
module.exports = async (context) => {
  await new Promise((resolve) => setTimeout(resolve, 60 * 1000));
  return context.res.send('OK');
};
