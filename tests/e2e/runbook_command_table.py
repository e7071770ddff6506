"""What each kubectl command of the runbooks must do on the embedded cluster: group, exit codes, output.

Keyed by ``file:line`` (see :mod:`tests.e2e.runbook_commands`): a kubectl line added to a runbook without an
entry here fails ``test_every_kubectl_command_has_a_table_entry``, and so does an entry whose line moved.
The group says which end-to-end test runs the command (mutating groups are reverted afterwards); the
patterns are searched in the command's combined output (multi-line mode).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SEED = "seed-incident-runbooks.md"
AGENT = "production-agent.md"


@dataclass(frozen=True)
class Expect:
    group: str
    patterns: tuple[str, ...] = ()
    rc: tuple[int, ...] = (0,)
    timeout_s: float = 60
    why: str = ""  # when the outcome is not a plain success, what the runbook reader should know


def _in(group: str, expect: Expect) -> Expect:
    return replace(expect, group=group)


AGENT_ROW = r"^agent-deployment-[0-9a-f]+-\w+\s+1/1\s+Running\s+\d+( \(\w+ ago\))?\s+\d+[smhd]"
# reads: a steady cluster, nothing changed
GET_PODS = Expect("reads", (r"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$", AGENT_ROW, r"^redis-0\s+1/1\s+Running"))
EVENTS = Expect("reads", (r"^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE", r"\bNormal\s+(Scheduled|Started)\b"),
                rc=(0, 141), why="exit 141 once there are more than 20 events: kubectl gets SIGPIPE from `head`, "
                                 "fatal under pipefail")
POD_NAME = Expect("reads", (r"\A\Z",), why="an assignment: prints nothing, the next lines use $POD")
LOGS_FOLLOW = Expect("reads", (r'msg="chat request"',), rc=(124,), timeout_s=5,
                     why="-f follows until killed: the drill runner's timeout (exit 124) ends it")
DESCRIBE_POD = Expect("reads", (r"^Name:\s+agent-deployment-", r"^Status:\s+Running", r"^\s+Ready\s+True"))
DESCRIBE_REDIS = Expect("reads", (r"^Name:\s+redis-0$", r"^Controlled By:\s+StatefulSet/redis"))
DESCRIBE_AGENTS = Expect("reads", (r"^Name:\s+agent-deployment-", r"^Controlled By:\s+ReplicaSet/agent-deployment-"))
HISTORY = Expect("reads", (r"^REVISION\s+CHANGE-CAUSE$", r"^\d+\s+<none>$"))
TOP_PODS = Expect("reads", (r"^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)", r"^agent-deployment-\S+\s+\d+m\s+[1-9]\d*Mi",
                            r"^redis-0\s+\d+m\s+[1-9]\d*Mi"))
TOP_NODES = Expect("reads", (r"^sandbox-worker\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%",))
CM_YAML = Expect("reads", (r"^kind: ConfigMap$", r"^  REDIS_URL: redis://redis-service:6379/0$"))
AGE = r"\d+[smhd](\d+[smh])?"  # kubectl's age column: 45s, 8m1s, 3h12m, 2d4h
GET_SECRET = Expect("reads", (rf"^agent-secrets\s+Opaque\s+1\s+{AGE}$",))
PROMQL = Expect("reads", (r"=> [-+.\deE]+ @\[",))
PROMQL_SEED = replace(PROMQL, why="the seed gives promtool no server URL: a real promtool would take the query "
                      "for the URL and fail; the sandbox's exec supplies the pod's Prometheus (podexec)")
PROMQL_SEED_EMPTY = replace(PROMQL_SEED, patterns=(r"\A\s*\Z",), why=PROMQL_SEED.why + "; and the errors carry "
                            "a `type` label the requests lack, so the division matches no series (prints nothing)")
PROMQL_NONE = Expect("reads", (r"\A\s*(^.*=> [-+.\deE]+ @\[[\d.]+\]\n?)*\Z",),
                     why="`> 0` keeps only error types that occur: none in steady traffic prints nothing, one line "
                         "each while a recent drill's errors are inside the 5m window")
LOGS_ERRORS = Expect("reads", (r"\A\s*\Z|^\s+\d+ ts=\S+ level=ERROR",), rc=(0, 1),
                     why="no ERROR line (steady traffic) makes grep exit 1, which fails the step under pipefail; "
                     "after an earlier fault in the session the counted ERROR lines print")
# `| head -N` exits after N lines; once the output outgrows the pipe buffer, the command before it is killed by
# SIGPIPE and under `bash -euo pipefail` (how drills run steps) the step fails with 141: a finding for drills
HEAD = "exit 141 once the logs outgrow the pipe buffer: `sort` gets SIGPIPE from `head`, fatal under pipefail"
LOGS_DURATION = Expect("reads", (r"duration=\d",), rc=(0, 141), why=HEAD)
LOGS_COST = Expect("reads", (r"cost=\d",), rc=(0, 141), why=HEAD)
LOGS_SPEND = Expect("reads", (r"^[\d.e-]+ user-\d+$",), rc=(0, 141), why=HEAD)
LOGS_USERS = Expect("reads", (r"^\s+\d+ user=user-\d+$",), rc=(0, 141), why=HEAD)
LOGS_AGENTS = Expect("reads", (r'msg="chat request"',))
REDIS_POD = Expect("reads", (r"^redis-0\s+1/1\s+Running\s+\d+",))
# The step keeps the last 4000 characters of output (a report, not an archive): a Redis that ran for minutes
# has its startup lines before that, so match the shape of a Redis log line rather than one line of it.
REDIS_LOGS = Expect("reads", (r"^\d+:[CMSX] \d{2} \w{3} \d{4} [\d:.]+ [.*#-] ",))
NO_NETPOL = Expect("reads", (r"^No resources found in production-agents namespace\.$",),
                   why="the reference manifests ship no NetworkPolicy")
# empty, or entries: "1) 1) (integer) 7" on a terminal, one value per line without one (id, time, microseconds)
SLOWLOG = Expect("reads", (r"\A(Unable to use a TTY[^\n]*\n)?(\d+\)|\d+\n\d+\n\d+\n|\s*\Z)",))
INFO_MEMORY = Expect("reads", (r"^used_memory:\d+", r"^maxmemory_policy:"))
PONG = Expect("reads", (r"^PONG$",))
LS_DATA = Expect("reads", (r"^total \d",))
DF = Expect("reads", (r"^Filesystem\s+Size\s+Used\s+Avail",))
EDIT_PVC = Expect("reads", (r"^Edit cancelled, no changes made\.$",),
                  why="needs an editor: run with EDITOR=true (fetches the PVC, opens the 'editor', changes nothing)")
NC = Expect("reads", (r'"nc": executable file not found|succeeded|open',), rc=(0, 1),
            why="`nc` only if the pod's image has it (here: the host); without it the runtime's error is shown")
IMAGE = Expect("reads", (r"\Aghcr\.io/drillbook/production-agent:1\.0\.0\Z",))
# restart: a container restarted by the test (SIGKILL) shows its previous instance's last lines
LOGS_PREVIOUS = Expect("restart", (r'msg="chat request"',))
# config: ConfigMap patches, restarts and rollout status
PATCH_CM = Expect("config", (r"^configmap/agent-config patched$",))
RESTART = Expect("config", (r"^deployment\.apps/agent-deployment restarted$",))
STATUS = Expect("config", (r'^deployment "agent-deployment" successfully rolled out$',), timeout_s=200)
# deployment: patch, undo, set image, scale
PATCH_DEPLOY = Expect("deployment", (r"^deployment\.apps/agent-deployment patched$",))
UNDO = Expect("deployment", (r"^deployment\.apps/agent-deployment rolled back$",))
SET_IMAGE = Expect("deployment", (r"^deployment\.apps/agent-deployment image updated$",))
SCALE_DEPLOY = Expect("deployment", (r"^deployment\.apps/agent-deployment scaled$",))
STATUS_DEPLOY = _in("deployment", STATUS)
# secret: the key replaced through create --dry-run | apply
SECRET_APPLY = Expect("secret", (r"^secret/agent-secrets (configured|created)$",))
RESTART_SECRET = _in("secret", RESTART)
STATUS_SECRET = _in("secret", STATUS)
# redis: CONFIG SET and keys, reverted by the test
REDIS_CONFIG_SET = Expect("redis", (r"^OK$",))
REDIS_BLOCK = Expect("redis", (r"^OK$",))
# statefulset: redis-0 deleted, the StatefulSet patched and scaled
DELETE_REDIS = Expect("statefulset", (r'^pod "redis-0" deleted',), timeout_s=120)
PATCH_STS = Expect("statefulset", (r"^statefulset\.apps/redis patched$",))
SCALE_STS = Expect("statefulset", (r"^statefulset\.apps/redis scaled$",))
STS_STATUS = Expect("statefulset", (r"^(partitioned roll out complete|statefulset rolling update complete)",),
                    timeout_s=200)
STS_STATUS_THEN_MAXMEMORY = replace(STS_STATUS, patterns=(*STS_STATUS.patterns, r"^OK$"))
STATUS_STS = _in("statefulset", STATUS)
# netpol: a scratch redis-network-policy (selecting no pod) deleted by the runbook
DELETE_NETPOL = Expect("netpol", (r'^networkpolicy\.networking\.k8s\.io "redis-network-policy" deleted',))
STATUS_NETPOL = _in("netpol", STATUS)
# node: cordon, drain held by the PDB, uncordon
NODES = Expect("node", (r"^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$", r"^sandbox-worker\d*\s+Ready"))
DESCRIBE_NODE = Expect("node", (r"^Name:\s+sandbox-", r"^\s+Ready\s+True"))
CORDON = Expect("node", (r"^node/sandbox-\S+ cordoned$",))
DRAIN = Expect("node", (r"^node/sandbox-\S+ drained$",), timeout_s=330)
UNCORDON = Expect("node", (r"^node/sandbox-\S+ uncordoned$",))
PODS_WIDE = Expect("node", (r"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE",
                            r"^agent-deployment-\S+\s+1/1\s+Running\s+.*127\.\d+\.\d+\.\d+\s+sandbox-"))
STATUS_NODE = _in("node", STATUS)

# Deliberately not run, with the reason (`kubectl edit` runs with EDITOR=true, so it is not here).
NOT_RUN: dict[str, str] = {
    f"{AGENT}:539": "stops the workload a slow-log entry names (${SLOW_CLIENT}); a steady cluster has none: "
                    "drilled by high-latency/redis-slow",
}

TABLE: dict[str, Expect] = {
    f"{SEED}:43": GET_PODS,  # kubectl get pods -n production-agents
    f"{SEED}:47": EVENTS,  # kubectl get events -n production-agents --sort-by='.lastTimestamp' | h
    f"{SEED}:50": POD_NAME,  # POD=$(kubectl get pods -n production-agents -l app=production-agent -o
    f"{SEED}:51": LOGS_FOLLOW,  # kubectl logs -f $POD -n production-agents --tail=100
    f"{SEED}:54": DESCRIBE_POD,  # kubectl describe pod $POD -n production-agents
    f"{SEED}:57": HISTORY,  # kubectl rollout history deployment/agent-deployment -n production-agen
    f"{SEED}:60": TOP_PODS,  # kubectl top pods -n production-agents
    f"{SEED}:76": PATCH_DEPLOY,  # kubectl patch deployment agent-deployment -n production-agents --patch
    f"{SEED}:96": UNDO,  # kubectl rollout undo deployment/agent-deployment -n production-agents
    f"{SEED}:99": SET_IMAGE,  # kubectl set image deployment/agent-deployment agent=ghcr.io/your-org/a
    f"{SEED}:115": CM_YAML,  # kubectl get configmap agent-config -n production-agents -o yaml
    f"{SEED}:118": GET_SECRET,  # kubectl get secret agent-secrets -n production-agents
    f"{SEED}:121": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:135": SECRET_APPLY,  # kubectl create secret generic agent-secrets --from-literal=anthropic-a
    f"{SEED}:140": RESTART_SECRET,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:182": PROMQL_SEED_EMPTY,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant 'rat
    f"{SEED}:187": LOGS_ERRORS,  # kubectl logs -n production-agents -l app=production-agent --since=10m
    f"{SEED}:197": PONG,  # kubectl exec -it redis-0 -n production-agents -- redis-cli ping
    f"{SEED}:201": HISTORY,  # kubectl rollout history deployment/agent-deployment -n production-agen
    f"{SEED}:218": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:221": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:237": REDIS_POD,  # kubectl get pods -n production-agents | grep redis
    f"{SEED}:240": REDIS_LOGS,  # kubectl logs redis-0 -n production-agents
    f"{SEED}:245": NO_NETPOL,  # kubectl get networkpolicy -n production-agents
    f"{SEED}:257": UNDO,  # kubectl rollout undo deployment/agent-deployment -n production-agents
    f"{SEED}:275": PROMQL_SEED,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant 'age
    f"{SEED}:280": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:307": PROMQL_SEED,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant 'his
    f"{SEED}:317": TOP_PODS,  # kubectl top pods -n production-agents
    f"{SEED}:318": TOP_NODES,  # kubectl top nodes
    f"{SEED}:321": LOGS_DURATION,  # kubectl logs -n production-agents -l app=production-agent --since=10m
    f"{SEED}:342": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:357": PATCH_DEPLOY,  # kubectl patch deployment agent-deployment -n production-agents --patch
    f"{SEED}:361": SCALE_DEPLOY,  # kubectl scale deployment agent-deployment --replicas=10 -n production-
    f"{SEED}:373": SLOWLOG,  # kubectl exec -it redis-0 -n production-agents -- redis-cli SLOWLOG GET
    f"{SEED}:377": INFO_MEMORY,  # kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory
    f"{SEED}:381": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{SEED}:394": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:397": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:419": PROMQL_SEED,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant 'rat
    f"{SEED}:424": PROMQL_SEED,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant 'rat
    f"{SEED}:429": LOGS_COST,  # kubectl logs -n production-agents -l app=production-agent --since=1h |
    f"{SEED}:454": REDIS_BLOCK,  # kubectl exec -n production-agents redis-0 -- redis-cli SET "blocked:us
    f"{SEED}:458": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:473": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:477": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:480": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:492": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:495": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:507": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:511": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{SEED}:514": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{SEED}:540": REDIS_POD,  # kubectl get pods -n production-agents | grep redis
    f"{SEED}:543": REDIS_LOGS,  # kubectl logs redis-0 -n production-agents --tail=100
    f"{SEED}:546": DESCRIBE_REDIS,  # kubectl describe pod redis-0 -n production-agents
    f"{SEED}:549": LS_DATA,  # kubectl exec -it redis-0 -n production-agents -- ls -lh /data/
    f"{SEED}:552": INFO_MEMORY,  # kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory
    f"{SEED}:569": DELETE_REDIS,  # kubectl delete pod redis-0 -n production-agents
    f"{SEED}:573": PATCH_STS,  # kubectl patch statefulset redis -n production-agents --patch '{"spec":
    f"{SEED}:577": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{SEED}:592": DF,  # kubectl exec -it redis-0 -n production-agents -- df -h
    f"{SEED}:595": EDIT_PVC,  # kubectl edit pvc redis-data-redis-0 -n production-agents
    f"{SEED}:599": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{SEED}:614": NO_NETPOL,  # kubectl get networkpolicy -n production-agents
    f"{SEED}:620": NC,  # kubectl exec -it ${AGENT_POD} -n production-agents -- nc -zv redis-ser
    f"{SEED}:624": DELETE_NETPOL,  # kubectl delete networkpolicy redis-network-policy -n production-agents
    f"{SEED}:647": NODES,  # kubectl get nodes
    f"{SEED}:650": DESCRIBE_NODE,  # kubectl describe node ${NODE_NAME}
    f"{SEED}:657": CORDON,  # kubectl cordon ${NODE_NAME}
    f"{SEED}:660": DRAIN,  # kubectl drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data
    f"{SEED}:669": PODS_WIDE,  # kubectl get pods -n production-agents -o wide
    f"{AGENT}:66": GET_PODS,  # kubectl get pods -n production-agents
    f"{AGENT}:70": EVENTS,  # kubectl get events -n production-agents --sort-by='.lastTimestamp' | h
    f"{AGENT}:73": LOGS_AGENTS,  # kubectl logs -n production-agents -l app=production-agent --tail=100
    f"{AGENT}:74": LOGS_PREVIOUS,  # kubectl logs -n production-agents -l app=production-agent --previous -
    f"{AGENT}:77": DESCRIBE_AGENTS,  # kubectl describe pods -n production-agents -l app=production-agent
    f"{AGENT}:80": HISTORY,  # kubectl rollout history deployment/agent-deployment -n production-agen
    f"{AGENT}:83": TOP_PODS,  # kubectl top pods -n production-agents
    f"{AGENT}:104": PATCH_DEPLOY,  # kubectl patch deployment agent-deployment -n production-agents --patch
    f"{AGENT}:108": STATUS_DEPLOY,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:125": IMAGE,  # kubectl get deployment agent-deployment -n production-agents -o jsonpa
    f"{AGENT}:132": UNDO,  # kubectl rollout undo deployment/agent-deployment -n production-agents
    f"{AGENT}:135": SET_IMAGE,  # kubectl set image deployment/agent-deployment agent=ghcr.io/drillbook/
    f"{AGENT}:139": STATUS_DEPLOY,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:157": CM_YAML,  # kubectl get configmap agent-config -n production-agents -o yaml
    f"{AGENT}:160": GET_SECRET,  # kubectl get secret agent-secrets -n production-agents
    f"{AGENT}:163": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:167": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:169": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:189": SECRET_APPLY,  # kubectl create secret generic agent-secrets -n production-agents --fro
    f"{AGENT}:194": RESTART_SECRET,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:196": STATUS_SECRET,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:246": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:249": PROMQL_NONE,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:254": LOGS_ERRORS,  # kubectl logs -n production-agents -l app=production-agent --tail=-1 --
    f"{AGENT}:264": PONG,  # kubectl exec -it redis-0 -n production-agents -- redis-cli ping
    f"{AGENT}:268": HISTORY,  # kubectl rollout history deployment/agent-deployment -n production-agen
    f"{AGENT}:291": SECRET_APPLY,  # kubectl create secret generic agent-secrets -n production-agents --fr
    f"{AGENT}:296": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:299": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:301": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:331": REDIS_POD,  # kubectl get pods -n production-agents -l app=redis
    f"{AGENT}:334": REDIS_LOGS,  # kubectl logs redis-0 -n production-agents --tail=100
    f"{AGENT}:339": SCALE_STS,  # kubectl scale statefulset redis --replicas=1 -n production-agents
    f"{AGENT}:341": STS_STATUS,  # kubectl rollout status statefulset/redis -n production-agents --timeou
    f"{AGENT}:344": NO_NETPOL,  # kubectl get networkpolicy -n production-agents
    f"{AGENT}:347": STATUS_STS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:368": UNDO,  # kubectl rollout undo deployment/agent-deployment -n production-agents
    f"{AGENT}:370": STATUS_DEPLOY,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:374": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:391": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:396": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:399": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:401": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:435": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:445": TOP_PODS,  # kubectl top pods -n production-agents
    f"{AGENT}:446": TOP_NODES,  # kubectl top nodes
    f"{AGENT}:449": LOGS_DURATION,  # kubectl logs -n production-agents -l app=production-agent --tail=-1 --
    f"{AGENT}:475": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:478": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:480": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:505": PATCH_DEPLOY,  # kubectl patch deployment agent-deployment -n production-agents --patch
    f"{AGENT}:509": SCALE_DEPLOY,  # kubectl scale deployment agent-deployment --replicas=4 -n production-a
    f"{AGENT}:511": STATUS_DEPLOY,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:534": SLOWLOG,  # kubectl exec -it redis-0 -n production-agents -- redis-cli SLOWLOG GET
    f"{AGENT}:542": INFO_MEMORY,  # kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory
    f"{AGENT}:546": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{AGENT}:571": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:574": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:576": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:611": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:616": PROMQL,  # kubectl exec -n monitoring prometheus-0 -- promtool query instant http
    f"{AGENT}:621": LOGS_COST,  # kubectl logs -n production-agents -l app=production-agent --tail=-1 --
    f"{AGENT}:623": LOGS_SPEND,  # kubectl logs -n production-agents -l app=production-agent --tail=-1 --
    f"{AGENT}:654": LOGS_USERS,  # kubectl logs -n production-agents -l app=production-agent --tail=-1 --
    f"{AGENT}:658": REDIS_BLOCK,  # kubectl exec -n production-agents redis-0 -- redis-cli SET "blocked:us
    f"{AGENT}:662": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:665": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:667": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:691": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:695": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:698": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:700": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:712": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:715": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:717": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:729": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:733": PATCH_CM,  # kubectl patch configmap agent-config -n production-agents --patch '{"d
    f"{AGENT}:736": RESTART,  # kubectl rollout restart deployment/agent-deployment -n production-agen
    f"{AGENT}:738": STATUS,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:775": REDIS_POD,  # kubectl get pods -n production-agents -l app=redis
    f"{AGENT}:778": REDIS_LOGS,  # kubectl logs redis-0 -n production-agents --tail=100
    f"{AGENT}:781": DESCRIBE_REDIS,  # kubectl describe pod redis-0 -n production-agents
    f"{AGENT}:784": LS_DATA,  # kubectl exec -it redis-0 -n production-agents -- ls -lh /data/
    f"{AGENT}:787": INFO_MEMORY,  # kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory
    f"{AGENT}:806": PATCH_STS,  # kubectl patch statefulset redis -n production-agents --patch '{"spec":
    f"{AGENT}:810": DELETE_REDIS,  # kubectl delete pod redis-0 -n production-agents
    f"{AGENT}:814": STS_STATUS_THEN_MAXMEMORY,  # kubectl rollout status statefulset/redis -n production-agents --timeou
    f"{AGENT}:819": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{AGENT}:841": DF,  # kubectl exec -it redis-0 -n production-agents -- df -h
    f"{AGENT}:844": EDIT_PVC,  # kubectl edit pvc redis-data-redis-0 -n production-agents
    f"{AGENT}:848": REDIS_CONFIG_SET,  # kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET
    f"{AGENT}:851": REDIS_CONFIG_SET,  # kubectl exec redis-0 -n production-agents -- redis-cli CONFIG SET save
    f"{AGENT}:869": NO_NETPOL,  # kubectl get networkpolicy -n production-agents
    f"{AGENT}:875": NC,  # kubectl exec -it ${AGENT_POD} -n production-agents -- nc -zv redis-ser
    f"{AGENT}:879": DELETE_NETPOL,  # kubectl delete networkpolicy redis-network-policy -n production-agents
    f"{AGENT}:883": STATUS_NETPOL,  # kubectl rollout status deployment/agent-deployment -n production-agent
    f"{AGENT}:916": NODES,  # kubectl get nodes
    f"{AGENT}:919": DESCRIBE_NODE,  # kubectl describe node ${NODE_NAME}
    f"{AGENT}:925": CORDON,  # kubectl cordon ${NODE_NAME}
    f"{AGENT}:928": DRAIN,  # kubectl drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data
    f"{AGENT}:935": UNCORDON,  # kubectl uncordon ${NODE_NAME}
    f"{AGENT}:938": PODS_WIDE,  # kubectl get pods -n production-agents -o wide
    f"{AGENT}:939": STATUS_NODE,  # kubectl rollout status deployment/agent-deployment -n production-agent
}
