// Writes 1,000,001 characters ('z' then 'a's) to the log and to the error log, in 8,000-character
// calls, past the 1,000,000-character limit of both.
const text = 'z' + 'a'.repeat(1000000);

module.exports = async (context) => {
  for (const write of [(line) => context.log(line), (line) => context.error(line)]) {
    for (let start = 0; start < text.length; start += 8000) {
      write(text.slice(start, start + 8000));
    }
  }
  return context.res.json({ truncated: 'both' });
};
