"""Configuration text for the private Dovecot and Postfix that tests/servers/mail.py starts.

Everything listens on 127.0.0.1 only; Postfix delivers to DOMAIN through Dovecot's LMTP and fails
every other destination at once, so no test mail can leave the machine.
"""

from __future__ import annotations

import pwd
from pathlib import Path

DOMAIN = "example.com"


def dovecot_conf(d: Path, mail: Path, users_file: Path, mail_user: pwd.struct_passwd, internal: str,
                  login: str, imap_port: int, lmtp_port: int, *, root: bool, tls_dir: Path | None = None,
                 imaps_port: int | None = None, imap_capability: str | None = None) -> str:
    # Login processes chroot by default, which only root can do.
    chroot = "" if root else "\n  chroot ="
    # With a certificate: STARTTLS on the IMAP port and implicit TLS on imaps_port. Plain-text login
    # stays allowed (disable_plaintext_auth = no) because most tests run without TLS on loopback.
    # imap_capability replaces what the server announces (a server without MOVE, IDLE or UIDPLUS);
    # Dovecot still understands the commands, so only a client that reads the list is tested.
    capability = f"imap_capability = {imap_capability}\n" if imap_capability else ""
    ssl = f"ssl = yes\nssl_cert = <{tls_dir}/cert.pem\nssl_key = <{tls_dir}/key.pem" if tls_dir else "ssl = no"
    return f"""
instance_name = mc-{d.parent.name}
base_dir = {d}/run
state_dir = {d}/state
listen = 127.0.0.1
protocols = imap lmtp
{capability}{ssl}
disable_plaintext_auth = no
# Tests log in with wrong passwords on purpose: no 2 s delay on each failure (and see anvil below).
auth_failure_delay = 0
auth_mechanisms = plain login
log_path = {d}/dovecot.log
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u/Maildir
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
mail_privileged_group =
# Tests kill connections mid-fetch and expect the message to stay untouched; fsync is not needed.
mail_fsync = never
lmtp_save_to_detail_mailbox = no
recipient_delimiter =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_file}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={mail}/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port or 0}
    ssl = yes
  }}{chroot}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service auth {{
  # Postfix's smtpd (user postfix) asks this socket to check SMTP AUTH passwords.
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  # Mode 0 turns off the auth penalty, which would delay the next (correct) login from 127.0.0.1
  # by up to 15 s after a test's deliberate wrong password.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}{chroot}
}}
"""


def postfix_main(p: Path, root: Path, lmtp_port: int) -> str:
    return f"""
compatibility_level = 3.6
queue_directory = {p}/queue
data_directory = {p}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Local users are virtual mailboxes in Dovecot, reached over LMTP.
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{p}/conf/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
# Nothing leaves the machine: every other destination fails at once with this text.
default_transport = error:this test server delivers only to {DOMAIN}
relay_transport = error:this test server delivers only to {DOMAIN}
alias_maps =
alias_database =
# SMTP needs a login, as a real submission server would; checked by Dovecot's auth.
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {root}/dovecot/run/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
# Room for the 20 MB attachment tests (base64 grows it by a third).
message_size_limit = 52428800
mailbox_size_limit = 0
biff = no
smtputf8_enable = no
maillog_file = {p}/maillog
maillog_file_prefixes = {p}
"""


def postfix_master(smtp_port: int, smtps_port: int | None) -> str:
    # Column 5 (chroot) is "n" everywhere: the queue lives in a temp dir without a chroot skeleton.
    smtps = f"127.0.0.1:{smtps_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n" if smtps_port else ""
    return f"""
127.0.0.1:{smtp_port} inet n - n - - smtpd
{smtps}tlsmgr    unix  - - n 1000? 1 tlsmgr
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""
