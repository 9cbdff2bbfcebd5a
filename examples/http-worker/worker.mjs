// A Cadenza worker in JavaScript (Node.js 18 or newer, no packages): it
// long-polls the server for tasks of the actions it knows, runs them, and
// answers each with its token.
//
//   node worker.mjs http://127.0.0.1:8080 [--once]
//
// Set CADENZA_API_TOKEN when the server requires a token.
const base = process.argv[2] ?? "http://127.0.0.1:8080";
const once = process.argv.includes("--once");
const headers = { "content-type": "application/json" };
if (process.env.CADENZA_API_TOKEN) headers.authorization = `Bearer ${process.env.CADENZA_API_TOKEN}`;

// The actions this worker runs: name -> function of the task's input.
const actions = {
  "text.shout": (input) => ({ text: String(input.text ?? "").toUpperCase() + "!" }),
  "text.count": (input) => ({ words: String(input.text ?? "").split(/\s+/).filter(Boolean).length }),
};

async function call(path, body) {
  const response = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${answer.code}: ${answer.message}`);
  return answer;
}

for (;;) {
  const { tasks } = await call("/v1/workers/tasks/claim", {
    worker: `node-${process.pid}`, actions: Object.keys(actions), wait: 20,
  });
  for (const task of tasks) {
    try {
      const result = actions[task.action](task.input ?? {});
      await call("/v1/workers/tasks/complete", { token: task.token, result });
      console.log(`${task.action} ${task.task_id}: done`);
    } catch (error) {
      await call("/v1/workers/tasks/fail", { token: task.token, type: error.name, message: error.message });
      console.log(`${task.action} ${task.task_id}: failed: ${error.message}`);
    }
  }
  if (once && tasks.length) break;
}
