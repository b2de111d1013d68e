// Initiates mogile's MongoDB replica set (once; running it again changes nothing), waits for a
// primary, and prints the MOGILE_MONGO_URL to give every mogile role. A mongosh script:
//   MOGILE_RS_MEMBERS=10.0.0.1:27017,10.0.0.2:27017,10.0.0.3:27017 mongosh --host 10.0.0.1:27017 deploy/mongo-replica-set.js
// Every member's mongod runs with the same replication.replSetName (deploy/mongod.conf.example)
// and must reach the others at the addresses listed: list the addresses they use for each other,
// never localhost. Environment:
//   MOGILE_RS_MEMBERS     host:port of every member, comma-separated (required); the first is
//                         the one mongosh connects to, or at least one of them
//   MOGILE_RS_NAME        replica set name (default rs0; must match replSetName)
//   MOGILE_RS_TIMEOUT_MS  how long to wait for a primary (default 60000)
// Exit status: 0 with a primary, 1 without one in time or on a mismatch, 2 on a usage error.

const setName = process.env.MOGILE_RS_NAME || "rs0";
const members = (process.env.MOGILE_RS_MEMBERS || "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
const timeoutMs = Number(process.env.MOGILE_RS_TIMEOUT_MS || 60000);

if (members.length === 0 || members.some((m) => !/^[^\s,/:]+:\d+$/.test(m)) || !(timeoutMs > 0)) {
  print("usage: MOGILE_RS_MEMBERS=host1:27017,host2:27017,host3:27017 [MOGILE_RS_NAME=rs0] mongosh --host host1:27017 deploy/mongo-replica-set.js");
  quit(2);
}
if (new Set(members).size !== members.length) {
  print(`MOGILE_RS_MEMBERS lists a member twice: ${members.join(",")}`);
  quit(2);
}
if (members.length % 2 === 0) print(`warning: ${members.length} members: an even count tolerates no more failures than one fewer; use 3 or 5`);

// rs.status(), or null while this mongod has no replica set configuration yet
function replStatus() {
  try {
    return rs.status();
  } catch (err) {
    if (err && (err.codeName === "NotYetInitialized" || err.code === 94)) return null;
    throw err;
  }
}

let status = replStatus();
if (status === null) {
  print(`initiating replica set ${setName}: ${members.join(", ")}`);
  try {
    rs.initiate({ _id: setName, members: members.map((host, i) => ({ _id: i, host })) });
  } catch (err) {
    // a second run racing this one got there first: that is fine
    if (!(err && (err.codeName === "AlreadyInitialized" || err.code === 23))) throw err;
    print("already initiated (by another run)");
  }
} else if (status.set !== setName) {
  print(`this mongod belongs to replica set ${status.set}, not ${setName} (MOGILE_RS_NAME)`);
  quit(1);
} else {
  print(`replica set ${setName} already initiated`);
}

// a primary is elected a few seconds after initiation (or after a failover)
const deadline = Date.now() + timeoutMs;
let primary;
for (;;) {
  status = replStatus();
  primary = status && status.members.find((m) => m.stateStr === "PRIMARY");
  if (primary || Date.now() >= deadline) break;
  sleep(1000);
}

const names = status ? status.members.map((m) => m.name) : members;
print(`replica set ${setName}:`);
for (const m of status ? status.members : []) {
  print(`  ${m.name}  ${m.stateStr}  health=${m.health}${m.self ? "  (this one)" : ""}`);
}
const missing = members.filter((m) => !names.includes(m));
const extra = names.filter((n) => !members.includes(n));
if (missing.length || extra.length) {
  // initiation is not reconfiguration: adding or removing members is rs.add()/rs.remove(), by hand
  print(`note: the set's members differ from MOGILE_RS_MEMBERS (not in the set: ${missing.join(",") || "-"}; not listed: ${extra.join(",") || "-"})`);
}
if (!primary) {
  print(`no primary within ${timeoutMs} ms: check that every member runs with replSetName ${setName} and reaches the others`);
  quit(1);
}
print(`primary: ${primary.name}`);
print(`MOGILE_MONGO_URL=mongodb://${names.join(",")}/?replicaSet=${setName}`);
