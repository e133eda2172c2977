"""``meshclaw agents add``: a flagship agent installed for its owner in one command, reusing the
owner's connections, with the narrowest grants, printed in plain words; refusals change nothing."""

from __future__ import annotations

import json

import yaml

from tests.cli_support import IN_PROCESS
from tests.support.local_user import mapped

IN_PROCESS.add(("agents",))

CONFIG = """\
# the organisation's configuration, kept by hand
organisation: {name: Example, domains: [example.com]}
users:
  - {id: alice, name: Alice, email: alice@example.com, timezone: Europe/Paris}
  - {id: bob, name: Bob, email: bob@example.com}
models:
  local: {kind: scripted, turns: [{text: "ok"}]}
agents:
  - name: mail-helper   # alice's first agent
    owner: alice
    instructions: Help with mail.
    model: local
    toolsets:
      email:
        grants: [email.list]
        settings: {imap_host: 127.0.0.1, username: alice@example.com, password: "secret:mail_pw",
                   address: alice@example.com, security: plain}
"""


def _write(home, user="alice"):
    path = home / "meshclaw.yaml"
    path.write_text(mapped(CONFIG, user))
    path.chmod(0o600)
    (home / "secrets.env").write_text("mail_pw=x\n")
    (home / "secrets.env").chmod(0o600)
    return path


def test_inbox_triage_is_installed_with_narrow_grants_and_the_file_keeps_its_comments(home, cli):
    path = _write(home)
    out = cli("agents", "add", "inbox-triage", "--owner", "alice", check=True).stdout
    assert "installed inbox-triage for alice (connections: email from mail-helper)" in out
    assert "never: send mail" in out and "may: save reply drafts" in out
    text = path.read_text()
    assert "# alice's first agent" in text and "# the organisation's configuration" in text
    assert path.stat().st_mode & 0o777 == 0o600
    agent = next(a for a in yaml.safe_load(text)["agents"] if a["name"] == "inbox-triage")
    assert agent["workflow"] == "inbox-triage" and agent["owner"] == "alice"
    grants = agent["toolsets"]["email"]["grants"]
    assert {"email.list", "email.raw", "email.flag", "email.draft"} <= set(g for g in grants if isinstance(g, str))
    assert {"tool": "email.move", "when": {"to_folder": {"one_of": ["Junk"]}}} in grants  # only to Junk
    assert agent["toolsets"]["email"]["settings"]["password"] == "secret:mail_pw"
    assert agent["triggers"] == [{"cron": "30 6 * * 1-5", "task": "Triage new mail and brief me.",
                                  "timezone": "Europe/Paris"}]
    assert cli("config", "check").returncode == 0
    again = cli("agents", "add", "inbox-triage", "--owner", "alice")
    assert again.returncode != 0 and "alice already has inbox-triage" in again.stderr
    assert "installed second" in cli("agents", "add", "inbox-triage", "--owner", "alice", "--name", "second",
                                      check=True).stdout
    assert "  - name: mail-helper" in path.read_text()  # the file's own list layout is kept
    bad = cli("agents", "add", "status-report", "--owner", "alice", "--option", "bogus=1")
    assert bad.returncode != 0 and "status-report has no option 'bogus' (its options: team_channel)" in bad.stderr


def test_installs_at_the_same_time_all_land_and_a_symlinked_file_stays_a_link(home, cli):
    import subprocess
    import sys

    real = _write(home)
    link = home / "link.yaml"
    link.symlink_to(real)
    env = {**__import__("os").environ, "MESHCLAW_HOME": str(home), "MESHCLAW_CONFIG": str(link)}
    procs = [subprocess.Popen([sys.executable, "-m", "meshclaw.surfaces.cli.main", "agents", "add", "status-report",
                               "--owner", "alice", "--name", f"report-{i}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs), [p.stderr.read() for p in procs]
    assert link.is_symlink()
    names = {a["name"] for a in yaml.safe_load(real.read_text())["agents"]}
    assert {f"report-{i}" for i in range(4)} <= names


def test_refusals_are_one_line_and_change_nothing(home, cli):
    path = _write(home, user="bob")
    before = path.read_text()
    refused = cli("agents", "add", "inbox-triage", "--owner", "alice")
    assert refused.returncode == 3 and "bob may not install agents for alice" in refused.stderr
    path.write_text(mapped(CONFIG, "alice"))
    before = path.read_text()
    for args, message in [
        (("agents", "add", "nosuch", "--owner", "alice"), "no agent template 'nosuch'"),
        (("agents", "add", "inbox-triage", "--owner", "carol"), "no user 'carol'"),
        (("agents", "add", "inbox-triage", "--owner", "alice", "--name", "mail-helper"), "already exists"),
        (("agents", "add", "inbox-triage", "--owner", "alice", "--settings-from", "x"), "no agent 'x'"),
    ]:
        p = cli(*args)
        assert p.returncode != 0 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert path.read_text() == before
    records = json.loads(cli("audit", "show", "--kind", "operation", "--json", check=True).stdout)
    refusals = [r for r in records if r["verdict"] == "refused" and r["data"]["operation"] == "agents.add"]
    assert len(refusals) == 1 and refusals[0]["data"]["actor"] == "bob"


def test_an_owner_without_a_mail_connection_is_told_what_to_do(home, cli):
    path = home / "meshclaw.yaml"
    path.write_text(mapped(CONFIG.split("agents:")[0] + "agents: []\n"))
    p = cli("agents", "add", "inbox-triage", "--owner", "alice")
    assert p.returncode != 0 and "alice has no email connection to reuse" in p.stderr


def test_chat_grants_of_the_templates_name_exactly_whom_they_reach():
    from meshclaw.agents.catalog import TEMPLATES

    chat = {"chat": {"backend": "sandbox", "workplace": "w"}, "deploy": {}, "calendar": {}}
    triage = TEMPLATES["inbox-triage"].agent(name="t", owner="alice", model="m", settings=chat)
    assert triage["toolsets"]["chat"]["grants"] == [
        {"tool": "chat.direct_message", "when": {"user": {"one_of": ["alice"]}}}]
    watcher = TEMPLATES["deploy-watcher"].agent(name="w", owner="alice", model="m", settings=chat,
                                                options={"team_channel": "ops"})
    assert watcher["toolsets"]["chat"]["grants"] == [
        {"tool": "chat.post", "when": {"channel_id": {"one_of": ["ops"]}}},
        {"tool": "chat.direct_message", "when": {"user": {"one_of": ["alice"]}}}]
    # without a team channel the watcher may not post anywhere
    alone = TEMPLATES["deploy-watcher"].agent(name="w", owner="alice", model="m", settings=chat)
    assert [g["tool"] for g in alone["toolsets"]["chat"]["grants"]] == ["chat.direct_message"]


def test_config_check_warns_about_an_unpinned_chat_grant_but_not_a_pinned_one(tmp_path):
    from meshclaw.operations.config import check_config

    def warnings(grant: str) -> list[str]:
        path = tmp_path / "meshclaw.yaml"
        path.write_text(f"""
users: [{{id: alice, name: Alice, email: alice@example.com}}]
models: {{s: {{kind: scripted, turns: [{{text: hi}}]}}}}
agents:
  - name: briefer
    owner: alice
    model: s
    autonomy: auto
    instructions: brief alice
    toolsets:
      chat: {{grants: [{grant}], settings: {{backend: sandbox, workplace: w}}}}
""")
        return [str(w) for w in check_config(path, secrets_file=tmp_path / "secrets.env").warnings
                if "without asking" in str(w)]

    assert len(warnings("chat.direct_message")) == 1
    assert warnings("{tool: chat.direct_message, when: {user: {one_of: [alice]}}}") == []
