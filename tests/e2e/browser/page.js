// A minimal frontend on its own origin: plain fetch() against the API, bearer tokens, no cookies.
// Query string: api (the API's base URL), flow (vote | anonymous | legacy) and the flow's inputs.
"use strict";

const params = new URLSearchParams(location.search);
const api = params.get("api");

function show(id, text) {
  document.getElementById(id).textContent = text;
}

function item(listId, text, data = {}) {
  const li = document.createElement("li");
  li.textContent = text;
  Object.assign(li.dataset, data);
  document.getElementById(listId).append(li);
  return li;
}

class StepFailed extends Error {}

// One API call as a named step; its outcome is listed in #steps, a failure also in #errors.
async function call(step, path, { method = "GET", token = null, body = undefined } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const init = { method, headers, mode: "cors", credentials: "omit" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const what = `${method} ${path.split("?")[0]}`; // no token in what is shown
  let response;
  try {
    response = await fetch(api + path, init);
  } catch (error) {
    // A CORS refusal surfaces only as a TypeError; the console and DevTools hold the reason.
    throw new StepFailed(`${step}: ${what} failed in the browser: ${error}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new StepFailed(`${step}: ${what} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  item("steps", `${step}: ${what} answered ${response.status}`, { step, outcome: "ok" });
  return { response, json: text ? JSON.parse(text) : null };
}

function renderProjects(listId, projects) {
  for (const project of projects) {
    const li = item(listId, "", { projectId: project.id });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = project.name;
    li.append(name);
    if (project.points !== null) {
      const points = document.createElement("span");
      points.className = "points";
      points.textContent = `${project.points} point${project.points === 1 ? "" : "s"}`;
      li.append(" — ", points);
    }
  }
}

const flows = {
  async vote() {
    const event = params.get("event");
    const verified = await call("verify", `/verify?token=${encodeURIComponent(params.get("token"))}`);
    const token = verified.json.access_token;
    show("user-name", verified.json.user.display_name);
    const read = await call("event", `/events/${event}`, { token });
    show("event-name", read.json.name);
    const cast = await call("vote", "/events/vote", {
      method: "POST",
      token,
      body: { event, projects: [params.get("project")] },
    });
    show("votes-remaining", String(cast.json.votes_remaining));
    const ranked = await call("leaderboard", `/events/${event}/projects?leaderboard=true`, { token });
    renderProjects("leaderboard", ranked.json);
  },

  async anonymous() {
    const event = params.get("event");
    const read = await call("event", `/events/${event}`);
    show("event-name", read.json.name);
    const listed = await call("projects", `/events/${event}/projects`);
    renderProjects("anonymous-projects", listed.json);
  },

  async legacy() {
    const path = `/users/${params.get("user")}`;
    const steps = [["anonymous", null], ["authenticated", params.get("access_token")]];
    for (const [step, token] of steps) {
      const { response, json } = await call(`legacy ${step}`, path, { token });
      const entry = document.createElement("div");
      entry.dataset.step = step;
      entry.dataset.redirected = String(response.redirected);
      entry.dataset.url = response.url;
      entry.dataset.userId = json.id;
      entry.textContent = `${step}: ${json.display_name} (${json.id}) from ${response.url}`;
      document.getElementById("legacy").append(entry);
    }
  },
};

async function main() {
  show("status", "running");
  try {
    const flow = flows[params.get("flow")];
    if (!api || !flow) throw new StepFailed(`need ?api= and a flow of ${Object.keys(flows)}`);
    await flow();
    show("status", "done");
  } catch (error) {
    show("errors", error instanceof StepFailed ? error.message : `${error}\n${error.stack}`);
    show("status", "failed");
  }
}

main();
