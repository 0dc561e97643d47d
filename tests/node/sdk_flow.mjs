// Drives the official node-appwrite SDK against the emulator and prints one JSON report.
// Usage: node sdk_flow.mjs <endpoint> <project> <big-archive.tar.gz> <small-archive.tar.gz>
import { Client, Functions, ID, Query, Runtime, ExecutionMethod } from "node-appwrite";
import { InputFile } from "node-appwrite/file";

const [endpoint, project, bigArchive, smallArchive] = process.argv.slice(2);
const client = new Client().setEndpoint(endpoint).setProject(project).setKey("node-key");
const functions = new Functions(client);
const report = {};

async function waitBuild(functionId, deploymentId) {
  for (let i = 0; i < 600; i++) {
    const dep = await functions.getDeployment({ functionId, deploymentId });
    if (["ready", "failed", "canceled"].includes(dep.status)) return dep;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("build did not finish");
}

async function error(fn) {
  try {
    await fn();
    return null;
  } catch (e) {
    return { code: e.code, type: e.type, message: e.message };
  }
}

const fn = await functions.create({ functionId: "nodefn", name: "Node SDK", runtime: Runtime.Python311,
  entrypoint: "src/main.py", timeout: 5 });
report.created = { id: fn.$id, runtime: fn.runtime, createdAt: fn.$createdAt, live: fn.live };
await functions.createVariable({ functionId: "nodefn", variableId: ID.unique(), key: "FROM_NODE", value: "yes" });

const big = await functions.createDeployment({ functionId: "nodefn", code: InputFile.fromPath(bigArchive, "big.tar.gz"),
  activate: true });
const bigReady = await waitBuild("nodefn", big.$id);
report.bigDeployment = { status: bigReady.status, sourceSize: bigReady.sourceSize, type: bigReady.type };

const small = await functions.createDeployment({ functionId: "nodefn", code: InputFile.fromPath(smallArchive, "code.tar.gz"),
  activate: true });
report.smallDeployment = { status: (await waitBuild("nodefn", small.$id)).status };
report.activeDeployment = (await functions.get({ functionId: "nodefn" })).deploymentId === small.$id;

const sync = await functions.createExecution({ functionId: "nodefn", body: "hello from node", xpath: "/echo?x=1",
  method: ExecutionMethod.POST, headers: { "x-test": "1", "content-type": "text/plain" } });
report.sync = { status: sync.status, code: sync.responseStatusCode, body: sync.responseBody, logs: sync.logs,
  functionId: sync.functionId, trigger: sync.trigger };

const asyncExec = await functions.createExecution({ functionId: "nodefn", body: "later", async: true });
report.asyncCreated = asyncExec.status;
let done = asyncExec;
for (let i = 0; i < 300 && !["completed", "failed"].includes(done.status); i++) {
  await new Promise((r) => setTimeout(r, 100));
  done = await functions.getExecution({ functionId: "nodefn", executionId: asyncExec.$id });
}
report.asyncDone = { status: done.status, code: done.responseStatusCode, body: done.responseBody };

for (let i = 0; i < 4; i++) await functions.create({ functionId: `page${i}`, name: `Page ${i}`, runtime: Runtime.Node180 });
const page1 = await functions.list({ queries: [Query.limit(2), Query.startsWith("name", "Page")] });
const page2 = await functions.list({ queries: [Query.limit(2), Query.cursorAfter(page1.functions[1].$id), Query.startsWith("name", "Page")] });
report.pages = { total: page1.total, first: page1.functions.map((f) => f.$id), second: page2.functions.map((f) => f.$id) };
const executions = await functions.listExecutions({ functionId: "nodefn", queries: [Query.equal("trigger", ["http"]), Query.orderDesc("$createdAt")] });
report.executions = { total: executions.total, firstIsAsync: executions.executions[0].$id === asyncExec.$id };

report.errors = {
  functionNotFound: await error(() => functions.get({ functionId: "nope" })),
  invalidId: await error(() => functions.create({ functionId: "-bad", name: "x", runtime: Runtime.Node180 })),
  runtime: await error(() => functions.create({ functionId: "rt", name: "x", runtime: "cobol-1" })),
  deploymentNotFound: await error(() => functions.getDeployment({ functionId: "nodefn", deploymentId: "nope" })),
  executionNotFound: await error(() => functions.getExecution({ functionId: "nodefn", executionId: "nope" })),
  variableNotFound: await error(() => functions.getVariable({ functionId: "nodefn", variableId: "nope" })),
  variableExists: await error(() => functions.createVariable({ functionId: "nodefn", variableId: ID.unique(), key: "FROM_NODE", value: "x" })),
  badQuery: await error(() => functions.list({ queries: [Query.equal("unknown", ["x"])] })),
};
await functions.delete({ functionId: "page0" });
report.deleted = (await error(() => functions.get({ functionId: "page0" })))?.type;
console.log(JSON.stringify(report));
