// Logs the id and name of the event's payload and answers 204.
module.exports = async (context) => {
  context.log(context.req.body.$id);
  context.log(context.req.body.name);
  return context.res.empty();
};
