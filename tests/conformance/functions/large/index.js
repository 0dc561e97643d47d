// Deployed with a large, incompressible file beside it (written by the test: blue.mp4, about 7 MB),
// so that its archive needs several 5 MiB upload chunks.
module.exports = async (context) => context.res.empty();
