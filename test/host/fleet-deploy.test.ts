// The sample production config agrees with the code: the ACL is fleetAcl("home"), and the
// generated test config carries the settings the fleet relies on.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { fleetAcl, mosquittoConf } from "../../host/fleet/mosquitto.js";

test("deploy/mosquitto/acl is fleetAcl('home') and the conf enforces auth, nodelay and a size limit", () => {
  const acl = readFileSync(join(PROJECT_ROOT, "deploy", "mosquitto", "acl"), "utf8");
  assert.ok(acl.endsWith("\n\n" + fleetAcl("home")), "regenerate deploy/mosquitto/acl from fleetAcl(\"home\")");
  assert.match(acl, /pattern write edgellm\/v1\/home\/peer\/%u\/#/);
  const conf = readFileSync(join(PROJECT_ROOT, "deploy", "mosquitto", "mosquitto.conf"), "utf8");
  for (const line of ["allow_anonymous false", "set_tcp_nodelay true", "acl_file", "password_file", "max_packet_size", "listener 8883"]) assert.ok(conf.includes(line), line);
});

test("generated test configs: nodelay, no persistence, auth only when users are given", () => {
  const open = mosquittoConf({ port: 1234 });
  assert.match(open, /listener 1234 127\.0\.0\.1/);
  assert.match(open, /set_tcp_nodelay true/);
  assert.match(open, /allow_anonymous true/);
  const closed = mosquittoConf({ port: 1, passwordFile: "/p", aclFile: "/a" });
  assert.match(closed, /allow_anonymous false/);
  assert.match(closed, /acl_file \/a/);
});
