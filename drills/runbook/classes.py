"""How risky one shell command is to run unattended: read-only, mutating, manual or external.

A drill may only run a runbook step unattended if we know it is read-only or a mutation confined to
the sandbox; anything that leaves the sandbox (cloud CLIs, public hosts) or needs a human (editors,
ssh, an interactive shell) must be recognised. Unknown commands are classed as mutating: failing safe
beats guessing, and so does a request with a body or a write method.
"""

from __future__ import annotations

import re
from itertools import dropwhile

from drills.runbook.model import CommandClass
from drills.runbook.shell import simple_commands

Verdict = tuple[CommandClass, str]
RO, MUT, MAN, EXT = CommandClass.READ_ONLY, CommandClass.MUTATING, CommandClass.MANUAL, CommandClass.EXTERNAL
_RANK = {RO: 0, MUT: 1, MAN: 2, EXT: 3}
_SAYS = {
    RO: "is read-only",
    MUT: "mutates",
    MAN: "needs a person (interactive, or host access on a node)",
    EXT: "talks to a system outside the sandbox",
}


def _words(text: str) -> set[str]:
    return set(text.split())


def _table(**by_class: str) -> dict[str, CommandClass]:
    """``_table(ro="get rollout_status")`` -> {"get": RO, "rollout status": RO}; "_" joins a two-word key."""
    classes = {"ro": RO, "mut": MUT, "man": MAN, "ext": EXT}
    return {w.replace("_", " "): classes[k] for k, words in by_class.items() for w in words.split()}


_KUBECTL = _table(  # also `oc`, which takes the same verbs plus its own
    ro="get describe logs top explain api-resources api-versions version cluster-info events diff wait "
    "rollout_history rollout_status auth_can-i auth_whoami config_view config_get-contexts "
    "config_current-context kustomize plugin_list status whoami adm_top projects",
    mut="patch set scale apply create replace delete label annotate cordon uncordon drain taint autoscale "
    "expose run cp rollout_restart rollout_undo rollout_pause rollout_resume config_use-context "
    "config_set-context certificate_approve certificate_deny adm_cordon adm_uncordon adm_drain "
    "adm_taint project new-app start-build",
    man="edit port-forward attach proxy debug rsh rsync",
    ext="login",
)
_REDIS = _table(
    ro="PING INFO GET MGET KEYS SCAN TTL PTTL DBSIZE EXISTS TYPE STRLEN HGET HGETALL HKEYS HLEN "
    "LRANGE LLEN SMEMBERS SCARD ZRANGE ZCARD XLEN XRANGE ROLE LASTSAVE TIME ECHO CONFIG_GET "
    "SLOWLOG_GET SLOWLOG_LEN MEMORY_USAGE MEMORY_STATS MEMORY_DOCTOR CLIENT_LIST CLIENT_INFO "
    "CLUSTER_INFO CLUSTER_NODES --scan --bigkeys --memkeys --stat --latency"
)
_REDIS_PAIRS = {"CONFIG", "SLOWLOG", "MEMORY", "CLIENT", "CLUSTER", "ACL", "SCRIPT"}
_TOOLS = _table(
    ro="grep egrep fgrep rg sort uniq head tail wc awk sed cut jq yq echo printf true false sleep ls df du "
    "cat env printenv ps date whoami hostname id uptime free tr column test [ nslookup dig host ping "
    "traceroute "
    "tracepath mtr getent nproc uname lscpu lsblk findmnt stat file which type whereis basename dirname "
    "realpath readlink md5sum sha1sum sha256sum diff cmp xxd od hexdump strings base64 vmstat iostat mpstat "
    "pidstat sar lsof ss netstat ifconfig dmesg tac nl fold paste join comm seq export local declare find "
    "readonly unset cd pushd popd alias set shopt trap stern "
    "git_log git_status git_diff git_show git_blame git_rev-parse git_branch git_tag git_remote "
    "docker_ps docker_images docker_inspect docker_logs docker_stats docker_top docker_version docker_info "
    "promtool_query promtool_check promtool_test amtool_alert amtool_silence_query amtool_check-config "
    "helm_list helm_ls helm_status helm_get helm_history helm_show helm_template helm_lint helm_version "
    "helm_env helm_diff helm_search_repo helm_dependency_list "
    "openssl_x509 openssl_req openssl_verify openssl_version openssl_crl openssl_asn1parse "
    "etcdctl_endpoint_status etcdctl_endpoint_health etcdctl_member_list etcdctl_get etcdctl_alarm_list "
    "etcdctl_version etcdctl_check_perf "
    "istioctl_analyze istioctl_proxy-status istioctl_proxy-config istioctl_version "
    "flux_get flux_logs flux_check flux_stats flux_tree "
    "argocd_app_get argocd_app_list argocd_app_diff argocd_app_history argocd_app_logs "
    "ip_addr ip_a ip_route ip_r ip_link_show ip_neigh ip_rule",
    mut="rm mv cp mkdir rmdir touch chmod chown ln kill pkill killall tee dd truncate shred kubectx kubens "
    "mount umount iptables ip python python3 node ruby perl psql mysql mongosh mongo sqlite3 xargs "
    "helm_install helm_upgrade helm_uninstall helm_delete helm_rollback helm_test "
    "etcdctl_put etcdctl_del etcdctl_defrag etcdctl_snapshot etcdctl_compaction etcdctl_alarm_disarm "
    "etcdctl_member_add etcdctl_member_remove etcdctl_move-leader "
    "docker_restart docker_stop docker_start docker_rm docker_kill docker_run docker_exec docker_rmi "
    "flux_reconcile flux_suspend flux_resume argocd_app_sync argocd_app_rollback argocd_app_delete "
    "argocd_app_set argocd_app_terminate-op amtool_silence_add amtool_silence_expire",
    man="ssh scp journalctl systemctl service sudo su vim vi nano emacs less more top htop atop watch "
    "crictl ctr tcpdump strace gdb k9s read tmux screen",
    ext="aws gcloud gsutil az eksctl doctl terraform pulumi gh vault consul nomad kubeseal "
    "git_push git_pull git_fetch git_clone docker_pull docker_push docker_login docker_build helm_repo "
    "helm_pull helm_push helm_search_hub helm_dependency_update helm_dependency_build helm_plugin "
    "argocd_login flux_bootstrap",
)
_VALUE_FLAGS = {  # flags that consume the next word, so it is not mistaken for a verb or a host
    "kubectl": _words(
        "-n --namespace --context --cluster --user --kubeconfig -s --server --token --as -c "
        "--container -l --selector -o --output -f --filename --since --tail"
    ),
    "redis-cli": _words("-h -p -a -n -u -s --user --pass"),
    "curl": _words(
        "-w -o -H -d -X -u -A -e -m -T -F -b -c -x -K --data --data-raw --data-binary "
        "--data-urlencode --json --header --request --user --max-time --connect-timeout --output "
        "--write-out --cacert --cert --key --retry --form --upload-file --resolve --proxy"
    ),
    "wget": _words(
        "-O -o -T -t -U --post-data --post-file --body-data --body-file --method --header "
        "--output-document --timeout --tries --user --password"
    ),
    "nc": _words("-p -w -s"),
    "xargs": _words("-n -I -P -L -d -s -E -a --max-args --max-procs --delimiter --arg-file"),
    "helm": _words("-n --namespace --kube-context --kubeconfig -o --output --revision -f --values --set"),
    "etcdctl": _words("--endpoints --cacert --cert --key --user --password -w --write-out"),
}
_WRAPPERS = _words("env timeout nohup time command sh bash zsh ash dash nice ionice stdbuf xargs exec")
_SHELLS = {"sh", "bash", "zsh", "ash", "dash", "/bin/sh", "/bin/bash"}
_NET_TOOLS = _words("curl wget nc ncat netcat telnet http https xh")
_HTTP_METHODS = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
_HOST = re.compile(r"^(?:\w+://)?(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)")  # scheme://user@HOST:port/path


def classify(command_text: str) -> Verdict:
    """Class of a logical command: the most severe of its simple commands (external > manual > ...)."""
    verdicts = [_classify_words(list(words)) for words in simple_commands(command_text)]
    return max(verdicts, key=lambda v: _RANK[v[0]], default=(RO, "only assignments or no command"))


def _positionals(args: list[str], value_flags: set[str]) -> list[str]:
    """Arguments that are neither flags nor the value of a flag in ``value_flags``."""
    prev = ["", *args[:-1]]
    return [
        a
        for a, p in zip(args, prev, strict=False)
        if (a == "-" or not a.startswith("-")) and p not in value_flags
    ]


def _classify_words(words: list[str]) -> Verdict:
    tool, args = words[0].rsplit("/", 1)[-1], words[1:]
    if tool == ">":
        return MUT, "redirects output into a file"
    if tool in _SHELLS and not args or (tool in _SHELLS and args[0] in ("-i", "-l", "--login")):
        return MAN, f"{tool} without a command is an interactive shell"
    if tool in _WRAPPERS and (rest := _unwrap(tool, args)):  # env X=1 cmd, sh -c 'cmd': judge the wrapped one
        return rest if isinstance(rest, tuple) else _classify_words(rest)
    if tool in ("kubectl", "oc"):
        return _kubectl(tool, args)
    if tool == "redis-cli":
        pos = [p.upper() for p in _positionals(args, _VALUE_FLAGS[tool])] or [a for a in args if a in _REDIS]
        if not pos:
            return MAN, "redis-cli without a command is interactive"
        key = " ".join(pos[:2]) if pos[0] in _REDIS_PAIRS else pos[0]
        return (RO, f"redis-cli {key} is read-only") if key in _REDIS else (MUT, f"redis-cli {key} writes")
    if tool in _NET_TOOLS:
        return _network(tool, args)
    if tool in ("sed", "yq", "perl") and any(a.startswith(("-i", "--in-place")) for a in args):
        return MUT, f"{tool} -i edits files in place"
    if tool == "find" and any(
        a in ("-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint") for a in args
    ):
        return MUT, "find with -delete/-exec acts on what it finds"
    if tool == "openssl" and args and args[0] == "s_client":
        return _network(
            "openssl s_client", [a.replace(":", "/", 1) for a in args if not a.startswith("-")][1:]
        )
    pos = _positionals(args, _VALUE_FLAGS.get(tool, set()))
    for key in (" ".join([tool, *pos[:2]]), " ".join([tool, *pos[:1]]), tool):
        if key in _TOOLS:
            return _TOOLS[key], f"{key} {_SAYS[_TOOLS[key]]}"
    return MUT, f"unknown command: {tool} -> mutating (fail safe)"


def _unwrap(tool: str, args: list[str]) -> list[str] | Verdict | None:
    if tool in _SHELLS:
        return classify(args[args.index("-c") + 1]) if "-c" in args[:-1] else None
    if tool == "xargs":
        flags = _VALUE_FLAGS["xargs"]
        rest = [a for a, p in zip(args, ["", *args[:-1]], strict=False)]
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            i += 2 if rest[i] in flags else 1
        return rest[i:] or ["echo"]
    rest = list(dropwhile(lambda a: a.startswith("-") or (tool == "env" and "=" in a), args))
    return rest[1 if tool == "timeout" else 0 :] or None


def _kubectl(tool: str, args: list[str]) -> Verdict:
    pos = _positionals(args, _VALUE_FLAGS["kubectl"])
    verb = pos[0] if pos else ""
    if verb == "exec":
        inner = args[args.index("--") + 1 :] if "--" in args else []
        if not inner:
            return MAN, f"{tool} exec without a command is an interactive shell"
        cls, reason = _classify_words(inner)
        return cls, f"{tool} exec: {reason}"
    if any(a.startswith("--dry-run") and a not in ("--dry-run=none", "--dry-run=false") for a in args):
        return RO, f"{tool} {verb} --dry-run changes nothing"
    if verb == "logs" and any(a in ("-f", "--follow", "--follow=true") for a in args):
        return RO, f"{tool} logs is read-only; follows logs; runs until the step timeout"
    for key in (" ".join(pos[:2]), verb):
        if key in _KUBECTL:
            return _KUBECTL[key], f"{tool} {key} {_SAYS[_KUBECTL[key]]}"
    return MUT, f"unknown command: {tool} {verb} -> mutating (fail safe)"


def _internal(host: str) -> bool:
    """Loopback, private addresses and cluster names (no dot, ``*.svc``, ``*.cluster.local``)."""
    host = host.strip("[]").lower()
    private = (
        re.match(r"^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|0\.0\.0\.0$)", host) is not None
    )
    return private or "." not in host or host.endswith((".svc", ".cluster.local", ".localhost", ".internal"))


def _network(tool: str, args: list[str]) -> Verdict:
    flags = _VALUE_FLAGS.get(tool, _VALUE_FLAGS["nc"]) if tool not in ("http", "https", "xh") else set()
    pos = _positionals(args, flags)
    method = None
    if tool in ("http", "https", "xh") and pos and pos[0].upper() in _HTTP_METHODS and pos[0].isupper():
        method, pos = pos[0], pos[1:]
    if not pos:
        return EXT, f"{tool} target unknown -> external (fail safe)"
    url = "localhost" + pos[0] if pos[0].startswith(":") else pos[0]
    host = (_HOST.match(url) or _HOST.match("")).group(1)  # type: ignore[union-attr]  # matches any string
    if "$" in host or "PLACEHOLDER_" in host or not _internal(host):
        return EXT, f"{tool} reaches {host or 'an unknown host'}, outside the cluster"
    write = _http_write(tool, args, pos[1:], method)
    if write:
        return MUT, f"{tool} {write} to {host} may change it"
    if tool == "wget" and not any(
        a in ("-O-", "-qO-", "-O", "--spider", "--output-document=-") for a in args
    ):
        return MUT, f"wget from {host} saves a file"
    if tool in ("curl", "wget") and _output_file(args):
        return MUT, f"{tool} from {host} writes a file"
    return RO, f"{tool} to cluster-internal {host} only probes"


def _http_write(tool: str, args: list[str], items: list[str], method: str | None) -> str | None:
    """The write method (or "POST" for a body) of an HTTP request, None for a read."""
    for i, a in enumerate(args):
        name, _, value = a.partition("=")
        if a in ("-X", "--request", "--method") and i + 1 < len(args):
            method = args[i + 1]
        elif name in ("--request", "--method") and value:
            method = value
        elif a.startswith("-X") and len(a) > 2:
            method = a[2:]
    if method and method.upper() not in ("GET", "HEAD", "OPTIONS"):
        return method.upper()
    body_flags = (
        "-d",
        "--data",
        "--json",
        "-F",
        "--form",
        "-T",
        "--upload-file",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
    )
    if any(
        a.split("=")[0] in body_flags
        or a.startswith(("--data", "--form"))
        or (a.startswith(("-d", "-F", "-T")) and not a.startswith("--") and len(a) > 2 and tool == "curl")
        for a in args
    ):
        return "POST"
    if tool in ("http", "https", "xh") and any(
        re.match(r"^[^=:@]+(:=|=|@)", i) and "==" not in i for i in items
    ):
        return "POST"
    return None


def _output_file(args: list[str]) -> bool:
    for i, a in enumerate(args[:-1]):
        if a in ("-o", "--output", "-O", "--output-document") and args[i + 1] not in ("-", "/dev/null"):
            return True
    return False
