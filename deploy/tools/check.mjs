#!/usr/bin/env node
// Offline checks for deploy/, run by scripts/check-deploy (one subcommand per check). Each prints
// what it checked and every problem found, and exits 1 when there is any problem.
//
//   validate RENDERED.yaml [--namespace NS] [--external-secrets a,b]
//       every object against the Kubernetes API schema of its apiVersion/kind (kubernetes-models,
//       @kubernetes-models/prometheus-operator), unknown fields, and cross-object references
//   rules RENDERED.yaml OUT.yaml        write the PrometheusRule's spec as a Prometheus rule file
//   same-rules A.yaml B.yaml            two rule files equal but for the runbook links' base URL
//   alerts RULES.yaml TESTS.yaml ROOT   annotations, runbook files, a fires/silent test per alert
//   metrics RULES.yaml DASHBOARD.json METRICS.md OUT.txt
//       metric names used by alerts and dashboard, each documented; written to OUT.txt
//   dashboard-rules DASHBOARD.json OUT.yaml
//       the dashboard's queries as recording rules, so `promtool check rules` parses them
//   dockerfiles ROOT (BINDIR | --no-binaries) RENDERED.yaml
//       every deploy/docker/Dockerfile* parses, stages and COPY --from are consistent, the
//       binaries it copies exist in BINDIR, and each postroom/* image of RENDERED has a target
//   smoke-matches RENDERED.yaml RECORD.json
//       every postroom Deployment and the migrations Job against what `scripts/images smoke` ran
//       (its record, build/images/smoke-ran.json): image name, user and group, read-only root,
//       env names and fixed values, Secret mount paths, probe commands, command and args; and
//       that each Deployment's listen variables and probes use its container ports
//
// Why the unknown-field check is hand-written: the packages' validators are compiled JSON
// schemas that, like the OpenAPI documents they come from, allow extra properties, while the API
// server (kubectl's default strict field validation) rejects a misspelt field. The allowed fields
// are read from the same packages' type declarations (.d.ts), one interface per file.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const problems = [];
const problem = (msg) => problems.push(msg);
const finish = (what) => {
  if (problems.length) {
    for (const p of problems) console.error(`  FAIL ${p}`);
    console.error(`${what}: ${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log(`${what}: ok`);
};

function readDocs(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: YAML error: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v != null) out.push(v);
  }
  return out;
}
const id = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;

// ---- schema models -----------------------------------------------------------------------------
// The packages are ESM-only (their "exports" have no "require" condition), and
// import.meta.resolve is synchronous only from Node.js 20.6 on while Debian 12 ships 18: so a
// package subpath is resolved here through its package.json "exports" (exact keys and the one-"*"
// patterns these packages use), to the file of the "import" condition.
const NODE_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules");
function resolveJs(spec) {
  const parts = spec.split("/");
  const name = parts.slice(0, spec.startsWith("@") ? 2 : 1).join("/");
  const sub = "." + spec.slice(name.length);
  const dir = path.join(NODE_MODULES, name);
  const exportsMap = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).exports ?? {};
  for (const [key, target] of Object.entries(exportsMap)) {
    let star = null;
    if (key === sub) {
      star = "";
    } else if (key.includes("*")) {
      const [pre, post] = key.split("*");
      if (sub.length >= pre.length + post.length && sub.startsWith(pre) && sub.endsWith(post))
        star = sub.slice(pre.length, sub.length - post.length);
    }
    if (star === null) continue;
    const file = typeof target === "string" ? target : target.import ?? target.default;
    if (file) return path.join(dir, file.replace("*", star));
  }
  throw new Error(`${spec}: not exported by ${name}`);
}

function modelModule(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1")
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  // Core group objects live under kubernetes-models/v1, the others under GROUP/VERSION.
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function resolveFile(spec) {
  // The packages export subpaths through "exports"; resolve the .js and read its sibling .d.ts.
  return resolveJs(spec).replace(/\.js$/, ".d.ts");
}

// Parses the first `export interface` of a .d.ts into {props: {name: typeText}} with imported
// type names resolved to files. Cached per file.
const dtsCache = new Map();
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const text = fs.readFileSync(file, "utf8");
  const imports = {};
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    for (const name of m[1].split(",").map((s) => s.trim())) {
      const from = m[2];
      imports[name] = from.startsWith(".")
        ? path.resolve(path.dirname(file), from).replace(/\.js$/, ".d.ts")
        : from;
    }
  }
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^export interface \w+/.test(l));
  let result = null;
  if (start >= 0) {
    const props = {};
    for (let i = start + 1; i < lines.length && lines[i] !== "}"; i++) {
      const m = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
      if (!m) continue;
      let type = m[2];
      if (type === "{") {
        // An inline object type: a map when it has an index signature, else left unchecked.
        const inner = [];
        for (i++; i < lines.length && !/^ {4}\};?$/.test(lines[i]); i++) inner.push(lines[i]);
        const idx = inner.map((l) => l.match(/^\s+\[key: string\]: (.*?);$/)).find(Boolean);
        type = idx ? `MAP<${idx[1]}>` : "ANY";
      } else {
        type = type.replace(/;$/, "");
      }
      props[m[1]] = type;
    }
    result = { props, imports, file };
  }
  dtsCache.set(file, result);
  return result;
}

function resolveType(typeName, ctx) {
  const where = ctx.imports[typeName];
  if (!where) return null;
  try {
    return parseDts(where.endsWith(".d.ts") ? where : resolveFile(where));
  } catch {
    return null; // Type aliases (IntOrString, Quantity) and the like: leaves.
  }
}

function checkFields(value, iface, at, ctx, report) {
  if (value == null || typeof value !== "object" || Array.isArray(value) || !iface) return;
  for (const [key, v] of Object.entries(value)) {
    if (!(key in iface.props)) {
      report(`${at}: unknown field "${key}"`);
      continue;
    }
    checkTyped(v, iface.props[key], `${at}.${key}`, iface, report);
  }
}

function checkTyped(v, type, at, ctx, report) {
  let m;
  if ((m = type.match(/^Array<(.*)>$/))) {
    if (Array.isArray(v)) v.forEach((e, i) => checkTyped(e, m[1], `${at}[${i}]`, ctx, report));
  } else if ((m = type.match(/^MAP<(.*)>$/))) {
    if (v && typeof v === "object")
      for (const [k, e] of Object.entries(v)) checkTyped(e, m[1], `${at}.${k}`, ctx, report);
  } else if (/^I\w+$/.test(type)) {
    const sub = resolveType(type, ctx);
    if (sub) checkFields(v, sub, at, sub, report);
  }
}

async function validateObject(o, report) {
  if (!o.apiVersion || !o.kind) return report(`object without apiVersion/kind`);
  const spec = modelModule(o.apiVersion, o.kind);
  let Model;
  try {
    Model = (await import(spec))[o.kind];
    if (!Model) throw new Error("no such kind");
  } catch {
    return report(`${id(o)}: no schema for ${o.apiVersion} ${o.kind} (unknown apiVersion/kind)`);
  }
  // kustomize wraps generated Secret data at 70 columns; Go's base64 decoder (and so the API
  // server) skips the newlines, so the check does too.
  if (o.kind === "Secret" && o.data)
    o = { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v).replace(/[\r\n]/g, "")])) };
  try {
    new Model(o).validate();
  } catch (e) {
    report(`${id(o)}: ${e.message}`);
  }
  const iface = parseDts(resolveFile(spec));
  if (!iface) return report(`${id(o)}: cannot read the type declaration of ${spec}`);
  checkFields(o, iface, id(o), iface, report);
}

// ---- cross-object checks -----------------------------------------------------------------------
const matches = (sel, labels) =>
  !!sel &&
  Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v) &&
  (sel.matchExpressions ?? []).every((e) => {
    const has = labels && e.key in labels;
    if (e.operator === "In") return has && e.values.includes(labels[e.key]);
    if (e.operator === "NotIn") return !has || !e.values.includes(labels[e.key]);
    if (e.operator === "Exists") return has;
    if (e.operator === "DoesNotExist") return !has;
    return false;
  });

function crossChecks(objs, opts) {
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const names = (k) => new Set(byKind(k).map((o) => o.metadata.name));
  const configMaps = names("ConfigMap");
  const secrets = new Set([...names("Secret"), ...opts.externalSecrets]);
  const workloads = objs.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));
  const podTemplates = workloads.map((w) => ({ w, t: w.spec.template }));

  for (const o of objs) {
    if (!o.metadata?.name) problem(`${id(o)}: no metadata.name`);
    if (opts.namespace && o.kind !== "Namespace" && o.metadata?.namespace !== opts.namespace)
      problem(`${id(o)}: namespace is ${o.metadata?.namespace ?? "unset"}, expected ${opts.namespace}`);
  }
  for (const { w, t } of podTemplates) {
    const sel = w.spec.selector;
    if (w.kind !== "Job" && !matches(sel, t.metadata?.labels))
      problem(`${id(w)}: spec.selector does not match the pod template's labels`);
    const pod = t.spec;
    const podSc = pod.securityContext ?? {};
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const at = `${id(w)} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) problem(`${at}: runAsNonRoot is not set`);
      if (sc.readOnlyRootFilesystem !== true) problem(`${at}: root filesystem is not read-only`);
      if (sc.allowPrivilegeEscalation !== false) problem(`${at}: allowPrivilegeEscalation not false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(`${at}: capabilities not dropped`);
      for (const r of ["requests", "limits"])
        for (const k of ["cpu", "memory"])
          if (!c.resources?.[r]?.[k]) problem(`${at}: no resources.${r}.${k}`);
      if (w.kind === "Deployment" && w.metadata.labels?.["app.kubernetes.io/part-of"] === "postroom") {
        // The gRPC port serves TLS, which Kubernetes' gRPC probes cannot speak: both probes run
        // postroom-healthcheck against the container's own gRPC port, naming the certificate's
        // Service name; readiness asks health service "readiness".
        const grpcPort = (c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
        const probeProblem = (probe, service) => {
          const cmd = probe?.exec?.command ?? [];
          if (cmd[0] !== "postroom-healthcheck") return "is not an exec of postroom-healthcheck";
          if (cmd[1] !== `127.0.0.1:${grpcPort}`) return `does not dial 127.0.0.1:${grpcPort}`;
          const positional = cmd.slice(2).filter((a, i, all) => !a.startsWith("--") &&
            !(i > 0 && all[i - 1].startsWith("--")));
          if ((positional[0] ?? "") !== service) return `does not ask health service "${service}"`;
          const name = cmd[cmd.indexOf("--server-name") + 1];
          if (!cmd.includes("--server-name") || name !== w.metadata.name)
            return `does not check the certificate's name ${w.metadata.name} (--server-name)`;
          return null;
        };
        const live = probeProblem(c.livenessProbe, "");
        if (live) problem(`${at}: liveness probe ${live}`);
        const ready = probeProblem(c.readinessProbe, "readiness");
        if (ready) problem(`${at}: readiness probe ${ready}`);
      }
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef && !configMaps.has(e.configMapRef.name))
          problem(`${at}: envFrom ConfigMap ${e.configMapRef.name} is not in the output`);
        if (e.secretRef && !secrets.has(e.secretRef.name))
          problem(`${at}: envFrom Secret ${e.secretRef.name} is neither rendered nor expected`);
      }
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s && !secrets.has(s.name)) problem(`${at}: env ${e.name}: unknown Secret ${s.name}`);
        const cm = e.valueFrom?.configMapKeyRef;
        if (cm && !configMaps.has(cm.name)) problem(`${at}: env ${e.name}: unknown ConfigMap ${cm.name}`);
      }
      const vols = new Set([...(pod.volumes ?? []), ...(w.spec.volumeClaimTemplates ?? [])]
        .map((v) => v.name ?? v.metadata?.name));
      for (const m of c.volumeMounts ?? [])
        if (!vols.has(m.name)) problem(`${at}: mounts undefined volume ${m.name}`);
    }
    for (const v of pod.volumes ?? []) {
      if (v.secret && !secrets.has(v.secret.secretName))
        problem(`${id(w)}: volume ${v.name}: unknown Secret ${v.secret.secretName}`);
      if (v.configMap && !configMaps.has(v.configMap.name))
        problem(`${id(w)}: volume ${v.name}: unknown ConfigMap ${v.configMap.name}`);
    }
  }
  for (const s of byKind("Service")) {
    const targets = podTemplates.filter(({ t }) => matches({ matchLabels: s.spec.selector }, t.metadata?.labels));
    if (!targets.length) problem(`${id(s)}: selector matches no workload's pods`);
    for (const p of s.spec.ports ?? []) {
      if (typeof p.targetPort !== "string") continue;
      const named = targets.some(({ t }) =>
        t.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)));
      if (!named) problem(`${id(s)}: targetPort ${p.targetPort} is no container port name`);
    }
  }
  for (const pdb of byKind("PodDisruptionBudget"))
    if (!podTemplates.some(({ w, t }) => w.kind !== "Job" && matches(pdb.spec.selector, t.metadata?.labels)))
      problem(`${id(pdb)}: selector matches no Deployment or StatefulSet`);
  for (const sm of byKind("ServiceMonitor")) {
    const svcs = byKind("Service").filter((s) => matches(sm.spec.selector, s.metadata.labels));
    if (!svcs.length) problem(`${id(sm)}: selects no Service`);
    for (const ep of sm.spec.endpoints ?? [])
      for (const s of svcs)
        if (!s.spec.ports.some((p) => p.name === ep.port))
          problem(`${id(sm)}: Service ${s.metadata.name} has no port named ${ep.port}`);
  }
}

// ---- subcommands -------------------------------------------------------------------------------
async function cmdValidate(args) {
  const file = args[0];
  const opts = { namespace: null, externalSecrets: [], label: path.basename(file) };
  for (let i = 1; i < args.length; i++) {
    if (args[i] === "--namespace") opts.namespace = args[++i];
    else if (args[i] === "--external-secrets") opts.externalSecrets = args[++i].split(",");
    else if (args[i] === "--label") opts.label = args[++i];
  }
  const objs = readDocs(file);
  for (const o of objs) await validateObject(o, problem);
  crossChecks(objs, opts);
  const kinds = {};
  for (const o of objs) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
  console.log(`  ${objs.length} objects: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")}`);
  finish(`${opts.label}: schema and references`);
}

function cmdRules([file, out]) {
  const rules = readDocs(file).filter((o) => o.kind === "PrometheusRule");
  if (rules.length !== 1) throw new Error(`${file}: expected one PrometheusRule, found ${rules.length}`);
  fs.writeFileSync(out, YAML.stringify(rules[0].spec, { lineWidth: 0 }));
  console.log(`wrote ${out}`);
}

const runbookPart = (u) => (u ?? "").replace(/^.*(\/docs\/runbooks\/)/, "$1");
function cmdSameRules([a, b]) {
  const norm = (f) => {
    const spec = YAML.parse(fs.readFileSync(f, "utf8"));
    for (const g of spec.groups)
      for (const r of g.rules) if (r.annotations) r.annotations.runbook_url = runbookPart(r.annotations.runbook_url);
    return JSON.stringify(spec);
  };
  if (norm(a) !== norm(b)) problem(`${b} differs from ${a} in more than the runbook base URL`);
  finish(`${b}: same rules as the tested base`);
}

function cmdAlerts([rulesFile, testsFile, root]) {
  const spec = YAML.parse(fs.readFileSync(rulesFile, "utf8"));
  const tests = YAML.parse(fs.readFileSync(testsFile, "utf8"));
  const cases = {};
  for (const t of tests.tests ?? [])
    for (const c of t.alert_rule_test ?? []) {
      cases[c.alertname] ??= { fires: 0, silent: 0 };
      cases[c.alertname][(c.exp_alerts ?? []).length ? "fires" : "silent"]++;
    }
  const runbookDir = path.join(root, "docs", "runbooks");
  const linked = new Set();
  let n = 0;
  for (const g of spec.groups)
    for (const r of g.rules) {
      if (!r.alert) continue;
      n++;
      const a = r.annotations ?? {};
      if (!["critical", "warning", "info"].includes(r.labels?.severity))
        problem(`${r.alert}: severity label must be critical, warning or info`);
      for (const k of ["summary", "description", "runbook_url"]) if (!a[k]) problem(`${r.alert}: no ${k}`);
      if (!/\$labels\.(connector|job)/.test(a.description ?? ""))
        problem(`${r.alert}: description names neither the connector nor the job`);
      const m = (a.runbook_url ?? "").match(/^https?:\/\/.+\/docs\/runbooks\/([a-z0-9-]+\.md)$/);
      if (!m) problem(`${r.alert}: runbook_url ${a.runbook_url} is not <base>/docs/runbooks/<page>.md`);
      else if (!fs.existsSync(path.join(runbookDir, m[1])))
        problem(`${r.alert}: runbook docs/runbooks/${m[1]} does not exist`);
      else linked.add(m[1]);
      const c = cases[r.alert];
      if (!c?.fires) problem(`${r.alert}: no promtool test case where it fires`);
      if (!c?.silent) problem(`${r.alert}: no promtool test case where it must not fire`);
    }
  for (const f of fs.existsSync(runbookDir) ? fs.readdirSync(runbookDir) : [])
    if (f.endsWith(".md") && f !== "README.md" && !linked.has(f))
      problem(`docs/runbooks/${f}: no alert links to it`);
  console.log(`  ${n} alerts, ${linked.size} runbooks`);
  finish("alert annotations, runbooks and test coverage");
}

// Metric names in a PromQL expression: identifiers that are not functions, keywords, label
// names (inside {} or by/on/... lists), durations, numbers or Grafana variables.
const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and",
  "or", "unless", "bool", "offset", "inf", "nan"]);
function metricNames(expr) {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{?\w+(?::\w+)?\}?/g, " ")
    .replace(/label_values\(([^,]*),\s*\w+\s*\)/g, "$1")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const out = new Set();
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = e.slice(m.index + m[0].length);
    const prev = e[m.index - 1] ?? " ";
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase()) || /[0-9.]/.test(prev)) continue;
    out.add(m[0]);
  }
  return out;
}

function documentedMetrics(md) {
  // Rows of the catalogue tables: | `name` | type | labels | service | meaning |
  const docs = new Map();
  for (const m of md.matchAll(/^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(\w+)\s*\|/gm)) docs.set(m[1], m[2]);
  return docs;
}

function cmdMetrics([rulesFile, dashFile, mdFile, outFile]) {
  const used = new Map(); // name -> where
  const add = (expr, where) => {
    for (const n of metricNames(String(expr))) if (!used.has(n)) used.set(n, where);
  };
  const spec = YAML.parse(fs.readFileSync(rulesFile, "utf8"));
  for (const g of spec.groups) for (const r of g.rules) add(r.expr, `alert ${r.alert ?? r.record}`);
  const dash = JSON.parse(fs.readFileSync(dashFile, "utf8"));
  const queries = dashboardQueries(dash);
  for (const q of queries) add(q.expr, q.where);
  const targets = queries.length;
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === "object" ? v.query?.query : v.type === "query" ? v.query : null;
    if (q) add(q, `variable ${v.name}`);
  }
  if (!targets) problem(`${dashFile}: no panel has a PromQL target`);
  const documented = documentedMetrics(fs.readFileSync(mdFile, "utf8"));
  const lines = [];
  for (const [name, where] of [...used].sort()) {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const ok = name === "up" || documented.has(name) ||
      (base !== name && documented.get(base) === "histogram");
    if (!ok) problem(`${name} (${where}) is not in docs/metrics.md`);
    lines.push(name);
  }
  if (!problems.length) fs.writeFileSync(outFile,
    "# Metric names the alerts and the Grafana dashboard use (written by scripts/check-deploy).\n" +
    "# A running stack must expose each postroom_* name on some service's /metrics.\n" +
    lines.join("\n") + "\n");
  console.log(`  ${lines.length} metric names used, ${documented.size} documented, ${targets} dashboard queries`);
  finish("metric names documented");
}

function dashboardQueries(dash) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ expr: t.expr, where: `panel "${p.title}" ${t.refId}` });
      walk(p.panels);
    }
  };
  walk(dash.panels);
  return out;
}

function cmdDashboardRules([dashFile, out]) {
  const dash = JSON.parse(fs.readFileSync(dashFile, "utf8"));
  // Grafana fills these in before Prometheus sees the query.
  const fill = (e) => e.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m").replace(/\$\{?\w+\}?/g, ".*");
  const rules = dashboardQueries(dash).map((q, i) => ({ record: `dashboard:query_${i}`, expr: fill(q.expr) }));
  if (!rules.length) problem(`${dashFile}: no queries`);
  fs.writeFileSync(out, YAML.stringify({ groups: [{ name: "dashboard", rules }] }, { lineWidth: 0 }));
  finish(`${rules.length} dashboard queries written to ${out}`);
}

async function cmdDockerfiles([root, binArg, renderedFile]) {
  const { DockerfileParser } = await import("dockerfile-ast");
  const utils = await import("dockerfile-utils");
  const dir = path.join(root, "deploy", "docker");
  const files = fs.readdirSync(dir).filter((f) => /^Dockerfile(\.[\w-]+)?$/.test(f) && !f.endsWith(".dockerignore"));
  if (!files.length) problem(`no Dockerfile in deploy/docker`);
  const noBinaries = binArg === "--no-binaries";
  const binDir = noBinaries ? null : binArg;
  if (binDir && !fs.existsSync(binDir))
    problem(`${binDir} does not exist: build the binaries first (scripts/build) or pass --no-binaries`);
  const binaries = new Set();
  const targetsByFile = {};
  for (const f of files) {
    const at = `deploy/docker/${f}`;
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const d of utils.validate(text))
      if (d.severity === 1) problem(`${at}:${d.range.start.line + 1}: ${d.message}`);
    const df = DockerfileParser.parse(text);
    const stages = [];
    targetsByFile[f] = stages;
    const instructions = df.getInstructions();
    const firstReal = instructions.find((i) => i.getKeyword() !== "ARG");
    // ARGs before the first FROM may name the base (FROM ${BASE}): judge their defaults.
    const globalArgs = {};
    for (const i of instructions) {
      if (i.getKeyword() !== "ARG") break;
      const m = (i.getArgumentsContent() ?? "").match(/^(\w+)=(\S+)$/);
      if (m) globalArgs[m[1]] = m[2];
    }
    if (!firstReal || firstReal.getKeyword() !== "FROM") problem(`${at}: does not start with FROM`);
    for (const i of instructions) {
      const line = i.getRange().start.line + 1;
      const kw = i.getKeyword();
      if (kw === "FROM") {
        const stage = i.getBuildStage();
        let image = i.getImageName();
        let tag = i.getImageTag();
        const argRef = (i.getArgumentsContent() ?? "").match(/^\$\{?(\w+)\}?\s/);
        if (argRef) {
          const value = globalArgs[argRef[1]];
          if (!value) problem(`${at}:${line}: FROM \${${argRef[1]}} has no default in an ARG before it`);
          [image, tag] = (value ?? "").split(":");
        }
        if (!stage) problem(`${at}:${line}: FROM without AS name (every stage is named)`);
        else if (stages.includes(stage)) problem(`${at}:${line}: stage ${stage} defined twice`);
        const local = stages.includes(image);
        if (!local && !/^debian$/.test(image ?? ""))
          problem(`${at}:${line}: base image ${image} is neither an earlier stage nor Debian`);
        if (image === "debian" && !/^12($|[.-])|^bookworm/.test(tag ?? ""))
          problem(`${at}:${line}: base image must be Debian 12 (bookworm), not ${tag ?? "latest"}`);
        if (stage) stages.push(stage);
      }
      if (kw === "COPY" || kw === "ADD") {
        const from = i.getFlags().find((fl) => fl.getName() === "from")?.getValue();
        if (from && !stages.includes(from) && !/^\d+$/.test(from))
          problem(`${at}:${line}: COPY --from=${from} names no earlier stage`);
        const args = i.getArguments().map((a) => a.getValue());
        for (const src of args.slice(0, -1)) {
          const bin = src.match(/(?:^|\/)bin\/(postroom[\w-]*)$/);
          if (bin) binaries.add(bin[1]);
        }
      }
      if (kw === "ENTRYPOINT") {
        // Exec form only: a JSON array whose first element is the binary.
        let exe = null;
        try {
          exe = JSON.parse(i.getArgumentsContent() ?? "")[0];
        } catch {
          problem(`${at}:${line}: ENTRYPOINT is not in exec (JSON array) form`);
        }
        if (exe && !/\/postroom[\w-]*$/.test(exe)) problem(`${at}:${line}: entrypoint ${exe} is no postroom binary`);
      }
    }
  }
  if (binDir && fs.existsSync(binDir))
    for (const b of binaries) {
      const p = path.join(binDir, b);
      if (!fs.existsSync(p)) problem(`Dockerfiles copy ${b}, which ${binDir} lacks`);
      else if (!(fs.statSync(p).mode & 0o111)) problem(`${p} is not executable`);
    }
  const images = new Set();
  for (const o of readDocs(renderedFile))
    for (const c of o.spec?.template?.spec?.containers ?? [])
      if (/^postroom\//.test(c.image)) images.add(c.image);
  if (!images.size) problem(`${renderedFile}: no postroom/* images`);
  for (const image of images) {
    const target = image.replace(/^.*\//, "").replace(/[:@].*$/, "");
    for (const [f, stages] of Object.entries(targetsByFile))
      if (!stages.includes(target)) problem(`deploy/docker/${f}: no target ${target} for image ${image}`);
  }
  console.log(`  ${files.length} Dockerfiles; binaries copied: ${[...binaries].sort().join(" ")}` +
    (noBinaries ? " (not checked: --no-binaries)" : ` (all in ${binDir})`));
  finish("Dockerfiles");
}

// ---- smoke-matches -----------------------------------------------------------------------------
// Values that differ by environment by design: the smoke sets its own (a private database, a
// token it made, loopback addresses on free ports, its replica names), so only their names count.
const PER_ENVIRONMENT = /^POSTROOM_(DATABASE|TOKEN|\w+_ADDR|\w+_LISTEN|\w+_REPLICA)$/;
const imageName = (image) => String(image ?? "").replace(/^localhost\//, "").replace(/(@.*|:[^/]*)$/, "");
const show = (v) => (v === undefined ? "(none)" : JSON.stringify(v));
const portOf = (addr) => String(addr ?? "").match(/:(\d+)$/)?.[1];

// The env a container gets from the manifest: name -> literal value, or null where it comes from
// a Secret or the pod (valueFrom), or from a ConfigMap key.
function manifestEnv(c, configMaps, at) {
  const env = new Map();
  for (const e of c.envFrom ?? []) {
    if (!e.configMapRef) { problem(`${at}: envFrom without configMapRef: keys unknown offline`); continue; }
    const cm = configMaps.get(e.configMapRef.name);
    if (!cm) { problem(`${at}: envFrom ConfigMap ${e.configMapRef.name} is not in the output`); continue; }
    for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, String(v));
  }
  for (const e of c.env ?? []) env.set(e.name, "value" in e ? String(e.value) : null);
  return env;
}

function compareWorkload(w, ran, configMaps, placeholder) {
  const at = id(w);
  const pod = w.spec.template.spec;
  const c = pod.containers[0];
  if (pod.containers.length !== 1) problem(`${at}: ${pod.containers.length} containers, the smoke runs one`);
  const differs = (field, manifest, smoke) => {
    if (JSON.stringify(manifest) !== JSON.stringify(smoke))
      problem(`${at}: ${field}: manifest ${show(manifest)}, smoke ${show(smoke)}`);
  };
  differs("image (tag aside)", imageName(c.image), imageName(ran.image));
  const sc = { ...(pod.securityContext ?? {}), ...(c.securityContext ?? {}) };
  differs("runAsUser", sc.runAsUser, ran.user);
  differs("runAsGroup", sc.runAsGroup, ran.group);
  differs("readOnlyRootFilesystem (smoke: wrote nothing outside /tmp)",
    sc.readOnlyRootFilesystem === true, ran.readOnlyRoot === true);
  differs("command", c.command ?? [], ran.command ?? []);
  differs("args", c.args ?? [], ran.args ?? []);

  const env = manifestEnv(c, configMaps, at);
  const smokeEnv = ran.env ?? {};
  for (const [name, value] of env) {
    if (!(name in smokeEnv)) problem(`${at}: env ${name}: manifest ${show(value ?? "(from a reference)")}, smoke (not set)`);
    else if (value !== null && !PER_ENVIRONMENT.test(name) && value !== smokeEnv[name])
      problem(`${at}: env ${name}: manifest ${show(value)}, smoke ${show(smokeEnv[name])}`);
  }
  for (const name of Object.keys(smokeEnv))
    if (!env.has(name)) problem(`${at}: env ${name}: manifest (not set), smoke ${show(smokeEnv[name])}`);
  // A Secret's value must not show in the record, where the smoke would have run it in clear.
  for (const e of c.env ?? [])
    if (e.valueFrom?.secretKeyRef && e.name in smokeEnv && smokeEnv[e.name] !== "<secret>")
      problem(`${at}: env ${e.name}: manifest from Secret ${e.valueFrom.secretKeyRef.name}, smoke a value in clear (not "<secret>")`);

  const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath).filter((p) => p !== "/tmp").sort();
  differs("volumeMounts (but /tmp)", mounts, [...(ran.mounts ?? [])].sort());

  // The probes dial the container's own gRPC port, written as the placeholder in the record.
  const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, String(p.containerPort)]));
  for (const kind of ["liveness", "readiness"]) {
    const cmd = c[`${kind}Probe`]?.exec?.command;
    const probePort = (cmd ?? []).map((a) => String(a).match(/^127\.0\.0\.1:(\d+)$/)?.[1]).find(Boolean);
    if (cmd && probePort !== ports.grpc)
      problem(`${at}: ${kind}Probe port: manifest ${show(probePort)}, grpc containerPort ${show(ports.grpc)}`);
    const general = cmd?.map((a) => String(a).replace(/^(127\.0\.0\.1):\d+$/, `$1:${placeholder}`));
    differs(`${kind}Probe exec command`, general, ran.probes?.[kind]);
  }
  for (const [name, port] of [["POSTROOM_GRPC_LISTEN", "grpc"], ["POSTROOM_METRICS_LISTEN", "metrics"]])
    if (env.has(name) && portOf(env.get(name)) !== ports[port])
      problem(`${at}: env ${name}: manifest port ${show(portOf(env.get(name)))}, ${port} containerPort ${show(ports[port])}`);
}

function cmdSmokeMatches([renderedFile, recordFile]) {
  const objs = readDocs(renderedFile);
  const record = JSON.parse(fs.readFileSync(recordFile, "utf8"));
  const ran = record.workloads ?? {};
  if (record.checks?.failed) problem(`${recordFile}: the smoke test it records had ${record.checks.failed} failed check(s)`);
  const configMaps = new Map(objs.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, o]));
  const workloads = objs.filter((o) => ["Deployment", "Job"].includes(o.kind) &&
    o.metadata?.labels?.["app.kubernetes.io/part-of"] === "postroom");
  if (!workloads.length) problem(`${renderedFile}: no postroom Deployment or Job`);
  for (const w of workloads) {
    const r = ran[w.metadata.name];
    if (!r) { problem(`${id(w)}: not in the smoke record (the smoke ran ${Object.keys(ran).join(", ") || "nothing"})`); continue; }
    if (r.kind !== w.kind) problem(`${id(w)}: kind: manifest ${w.kind}, smoke ${show(r.kind)}`);
    compareWorkload(w, r, configMaps, record.portPlaceholder ?? "<port>");
  }
  for (const name of Object.keys(ran))
    if (!workloads.some((w) => w.metadata.name === name)) problem(`${ran[name].kind}/${name}: the smoke ran it, no manifest has it`);
  console.log(`  ${workloads.length} workloads; smoke of commit ${record.commit ?? "?"} at ${record.time ?? "?"}`);
  finish("manifests match what the smoke test ran");
}

const [cmd, ...args] = process.argv.slice(2);
const commands = { validate: cmdValidate, rules: cmdRules, "same-rules": cmdSameRules,
  alerts: cmdAlerts, metrics: cmdMetrics, "dashboard-rules": cmdDashboardRules,
  dockerfiles: cmdDockerfiles, "smoke-matches": cmdSmokeMatches };
if (!commands[cmd]) {
  console.error(`usage: check.mjs ${Object.keys(commands).join("|")} ARGS (see the header)`);
  process.exit(2);
}
try {
  await commands[cmd](args);
} catch (e) {
  console.error(`check.mjs ${cmd}: ${e.message}`);
  process.exit(1);
}
