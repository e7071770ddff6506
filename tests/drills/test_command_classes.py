"""Every command of the seed runbooks, with its class, lines and placeholders; plus splitter edge cases.

The class decides whether a drill may run a step unattended, so each seed command is pinned here:
a rule change that flips one (say ``docker pull`` to read-only) must fail loudly.
"""

from __future__ import annotations

import pytest

from drills.errors import RunbookError
from drills.runbook import (
    Command,
    CommandClass,
    classify,
    find_placeholders,
    parse_runbook_file,
    split_commands,
)
from tests.conftest import SEED

RO, MUT, MAN, EXT = "read-only", "mutating", "manual", "external"

# (runbook, where, line, end_line, class, placeholders, text prefix); where = "inv" | "res" | cause number
SEED_COMMANDS: list[tuple[int, str | int, int, int, str, list[str], str]] = [
    (1, "inv", 43, 43, RO, [], "kubectl get pods -n production-agents"),
    (1, "inv", 47, 47, RO, [], "kubectl get events -n production-agents --sort-by="),
    (1, "inv", 50, 50, RO, [], "POD=$(kubectl get pods"),
    (1, "inv", 51, 51, RO, [], "kubectl logs -f $POD"),
    (1, "inv", 54, 54, RO, [], "kubectl describe pod $POD"),
    (1, "inv", 57, 57, RO, [], "kubectl rollout history deployment/agent-deployment"),
    (1, "inv", 60, 60, RO, [], "kubectl top pods"),
    (1, 1, 76, 77, MUT, [], "kubectl patch deployment agent-deployment -n production-agents --patch '{"),
    (1, 2, 93, 93, EXT, ["your-org"], "docker pull ghcr.io/your-org/agent:tag"),
    (1, 2, 96, 96, MUT, [], "kubectl rollout undo deployment/agent-deployment"),
    (1, 2, 99, 101, MUT, ["your-org", "working-tag"], "kubectl set image deployment/agent-deployment agent="),
    (1, 3, 115, 115, RO, [], "kubectl get configmap agent-config"),
    (1, 3, 118, 118, RO, [], "kubectl get secret agent-secrets"),
    (1, 3, 121, 121, MUT, [], "kubectl rollout restart deployment/agent-deployment"),
    (1, 4, 135, 137, MUT, ["NEW_KEY"], "kubectl create secret generic agent-secrets --from-literal="),
    (1, 4, 140, 140, MUT, [], "kubectl rollout restart deployment/agent-deployment"),
    (2, "inv", 182, 184, RO, [], "kubectl exec -n monitoring prometheus-0 -- promtool query instant 'rate("),
    (2, "inv", 187, 188, RO, [], "kubectl logs -n production-agents -l app=production-agent --since=10m | grep"),
    (2, "inv", 201, 201, RO, [], "kubectl rollout history"),
    (2, "inv", 202, 202, RO, [], 'git log --since="1 hour ago" --oneline'),
    (2, 1, 218, 219, MUT, [], "kubectl patch configmap agent-config"),
    (2, 1, 221, 221, MUT, [], "kubectl rollout restart"),
    (2, 2, 237, 237, RO, [], "kubectl get pods -n production-agents | grep redis"),
    (2, 2, 240, 240, RO, [], "kubectl logs redis-0"),
    (2, 2, 245, 245, RO, [], "kubectl get networkpolicy"),
    (2, 3, 257, 257, MUT, [], "kubectl rollout undo"),
    (2, 4, 275, 277, RO, [], "kubectl exec -n monitoring prometheus-0 -- promtool query instant"),
    (2, 4, 280, 281, MUT, [], "kubectl patch configmap agent-config"),
    (2, 4, 284, 284, EXT, [], "curl -I https://api.anthropic.com"),
    (3, "inv", 307, 309, RO, [], "kubectl exec -n monitoring prometheus-0 -- promtool query instant"),
    (3, "inv", 317, 317, RO, [], "kubectl top pods"),
    (3, "inv", 318, 318, RO, [], "kubectl top nodes"),
    (3, "inv", 321, 322, RO, [], "kubectl logs -n production-agents"),
    (3, "inv", 325, 325, EXT, [], 'curl -w "@curl-format.txt" -o /dev/null -s https://api.anthropic.com'),
    (3, 1, 339, 339, EXT, [], "curl -I https://status.anthropic.com"),
    (3, 1, 342, 343, MUT, [], "kubectl patch configmap agent-config"),
    (3, 2, 357, 358, MUT, [], "kubectl patch deployment agent-deployment"),
    (3, 2, 361, 361, MUT, [], "kubectl scale deployment agent-deployment --replicas=10"),
    (3, 3, 373, 374, RO, [], "kubectl exec -it redis-0 -n production-agents -- redis-cli SLOWLOG GET 10"),
    (3, 3, 377, 378, RO, [], "kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory"),
    (3, 3, 381, 382, MUT, [], "kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET maxmemory 2gb"),
    (3, 4, 394, 395, MUT, [], "kubectl patch configmap agent-config"),
    (3, 4, 397, 397, MUT, [], "kubectl rollout restart"),
    (4, "inv", 419, 421, RO, [], "kubectl exec -n monitoring prometheus-0 -- promtool query instant"),
    (4, "inv", 424, 426, RO, [], "kubectl exec -n monitoring prometheus-0 -- promtool query instant"),
    (4, "inv", 429, 430, RO, [], "kubectl logs -n production-agents"),
    (4, 1, 454, 455, MUT, ["USER_ID"], 'kubectl exec -n production-agents redis-0 -- redis-cli SET "blocked:user:${USER_ID}"'),
    (4, 1, 458, 459, MUT, [], "kubectl patch configmap agent-config"),
    (4, 2, 473, 474, MUT, [], "kubectl patch configmap agent-config"),
    (4, 2, 477, 478, MUT, [], "kubectl patch configmap agent-config"),
    (4, 2, 480, 480, MUT, [], "kubectl rollout restart"),
    (4, 3, 492, 493, MUT, [], "kubectl patch configmap agent-config"),
    (4, 3, 495, 495, MUT, [], "kubectl rollout restart"),
    (4, 4, 507, 508, MUT, [], "kubectl patch configmap agent-config"),
    (4, 4, 511, 512, MUT, [], "kubectl patch configmap agent-config"),
    (4, 4, 514, 514, MUT, [], "kubectl rollout restart"),
    (5, "inv", 540, 540, RO, [], "kubectl get pods -n production-agents | grep redis"),
    (5, "inv", 543, 543, RO, [], "kubectl logs redis-0 -n production-agents --tail=100"),
    (5, "inv", 546, 546, RO, [], "kubectl describe pod redis-0"),
    (5, "inv", 549, 549, RO, [], "kubectl exec -it redis-0 -n production-agents -- ls -lh /data/"),
    (5, "inv", 552, 553, RO, [], "kubectl exec -it redis-0 -n production-agents -- redis-cli INFO memory"),
    (5, 1, 569, 569, MUT, [], "kubectl delete pod redis-0"),
    (5, 1, 573, 574, MUT, [], "kubectl patch statefulset redis"),
    (5, 1, 577, 578, MUT, [], "kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET maxmemory-policy"),
    (5, 2, 592, 592, RO, [], "kubectl exec -it redis-0 -n production-agents -- df -h"),
    (5, 2, 595, 595, MAN, [], "kubectl edit pvc redis-data-redis-0"),
    (5, 2, 599, 600, MUT, [], 'kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET save ""'),
    (5, 3, 614, 614, RO, [], "kubectl get networkpolicy"),
    (5, 3, 617, 617, EXT, ["sg-xxxxx"], "aws ec2 describe-security-groups --group-ids sg-xxxxx"),
    (5, 3, 620, 621, RO, ["AGENT_POD"], "kubectl exec -it ${AGENT_POD} -n production-agents -- nc -zv redis-service 6379"),
    (5, 3, 624, 624, MUT, [], "kubectl delete networkpolicy redis-network-policy"),
    (6, "res", 647, 647, RO, [], "kubectl get nodes"),
    (6, "res", 650, 650, RO, ["NODE_NAME"], "kubectl describe node ${NODE_NAME}"),
    (6, "res", 653, 653, MAN, ["NODE_NAME"], "ssh ${NODE_NAME}"),
    (6, "res", 654, 654, MAN, [], "journalctl -u kubelet -n 100"),
    (6, "res", 657, 657, MUT, ["NODE_NAME"], "kubectl cordon ${NODE_NAME}"),
    (6, "res", 660, 663, MUT, ["NODE_NAME"], "kubectl drain ${NODE_NAME} --ignore-daemonsets"),
    (6, "res", 669, 669, RO, [], "kubectl get pods -n production-agents -o wide"),
]


@pytest.fixture(scope="module")
def seed_commands() -> list[tuple[int, str | int, Command]]:
    doc = parse_runbook_file(SEED)
    out: list[tuple[int, str | int, Command]] = []
    for rb in doc.runbooks:
        out += [(rb.number, "inv", c) for b in rb.investigation for c in b.commands]
        out += [(rb.number, cause.number or 0, c) for cause in rb.causes for c in cause.steps]
        out += [(rb.number, "res", c) for c in rb.steps]
    return out


def test_every_seed_command_is_enumerated(seed_commands: list[tuple[int, str | int, Command]]) -> None:
    got = [(rb, where, c.line, c.end_line, c.cls.value, c.placeholders) for rb, where, c in seed_commands]
    assert got == [row[:6] for row in SEED_COMMANDS]
    assert len(seed_commands) == 78


@pytest.mark.parametrize("row", SEED_COMMANDS, ids=lambda r: f"R{r[0]}-{r[1]}-L{r[2]}")
def test_seed_command(row: tuple[int, str | int, int, int, str, list[str], str],
                      seed_commands: list[tuple[int, str | int, Command]]) -> None:
    rb, where, line, end_line, cls, placeholders, prefix = row
    [cmd] = [c for r, w, c in seed_commands if (r, w, c.line) == (rb, where, line)]
    assert cmd.cls == CommandClass(cls)
    assert (cmd.end_line, cmd.placeholders) == (end_line, placeholders)
    assert cmd.text.startswith(prefix)
    assert "\\" not in cmd.text and "\n" not in cmd.text and "#" not in cmd.text.replace("$#", "")


def test_seed_exact_texts_comments_and_reasons(seed_commands: list[tuple[int, str | int, Command]]) -> None:
    by_line = {c.line: c for _, _, c in seed_commands}
    assert by_line[660].text == "kubectl drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data --timeout=5m"
    assert by_line[599].text == 'kubectl exec -it redis-0 -n production-agents -- redis-cli CONFIG SET save ""'
    assert by_line[135].text == (
        "kubectl create secret generic agent-secrets --from-literal=anthropic-api-key=NEW_KEY "
        "--dry-run=client -o yaml | kubectl apply -f -"
    )
    assert by_line[76].comment == "Immediate: Increase memory limit"
    assert by_line[51].comment == "3. Check pod logs"
    assert by_line[599].comment == "Or reduce snapshot retention"
    assert by_line[76].reason == "kubectl patch mutates"
    assert by_line[135].reason == "kubectl apply mutates"
    assert "follows logs; runs until the step timeout" in by_line[51].reason
    assert by_line[599].reason == "kubectl exec: redis-cli CONFIG SET writes"
    assert by_line[93].reason.startswith("docker pull")
    assert "api.anthropic.com" in by_line[284].reason


def test_command_line_ranges_match_the_file(seed_commands: list[tuple[int, str | int, Command]]) -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    for _, _, cmd in seed_commands:
        first = lines[cmd.line - 1].strip()
        assert cmd.text.startswith(first.rstrip("\\").split("  #")[0].strip()), cmd
        assert not lines[cmd.end_line - 1].rstrip().endswith("\\"), cmd


@pytest.mark.parametrize(
    ("text", "cls", "reason_part"),
    [
        ("kubectl get pods -n x", RO, "kubectl get"),
        ("kubectl --namespace x rollout status deploy/a", RO, "rollout status"),
        ("kubectl auth can-i delete pods", RO, "auth can-i"),
        ("kubectl annotate pod a x=y", MUT, "annotate"),
        ("kubectl rollout pause deploy/a", MUT, "rollout pause"),
        ("kubectl port-forward svc/a 8080:80", MAN, "port-forward"),
        ("kubectl attach -it pod/a", MAN, "attach"),
        ("kubectl exec -it redis-0 -- sh", MAN, "interactive shell"),
        ("kubectl exec -it redis-0", MAN, "interactive"),
        ("kubectl exec redis-0 -- redis-cli FLUSHALL", MUT, "FLUSHALL"),
        ("kubectl exec redis-0 -- redis-cli -h redis DBSIZE", RO, "DBSIZE"),
        ("kubectl exec redis-0 -- redis-cli MEMORY USAGE k", RO, "MEMORY USAGE"),
        ("kubectl exec redis-0 -- rm -rf /data/dump.rdb", MUT, "rm"),
        ("kubectl exec redis-0 -- cat /etc/hosts | wc -l", RO, "cat"),
        ("kubectl frobnicate pods", MUT, "unknown command: kubectl frobnicate -> mutating (fail safe)"),
        ("frobnicate --all", MUT, "unknown command: frobnicate -> mutating (fail safe)"),
        ("docker push ghcr.io/a/b:c", EXT, "docker push"),
        ("git push origin main", EXT, "git push"),
        ("git status", RO, "git status"),
        ("gcloud compute instances list", EXT, "gcloud"),
        ("curl -s http://localhost:8080/healthz", RO, "localhost"),
        ("curl -s http://agent-service.production-agents.svc.cluster.local/health", RO, "cluster-internal"),
        ("curl -X POST http://localhost:8080/admin/flush", MUT, "POST"),
        ("wget https://example.com/x", EXT, "example.com"),
        ("nc -z redis 6379", RO, "redis"),
        ("sed -i s/a/b/ file", MUT, "sed -i"),
        ("sed s/a/b/ file", RO, "sed"),
        ("watch kubectl get pods", MAN, "watch"),
        ("vim /etc/config", MAN, "vim"),
        ("echo hi > /tmp/out", MUT, "redirects"),
        ("kubectl get pods > /dev/null", RO, "kubectl get"),
        ("env FOO=1 kubectl delete pod a", MUT, "kubectl delete"),
        ("sh -c 'kubectl get pods | grep a'", RO, "kubectl get"),
        ("X=$(kubectl delete pod a)", MUT, "kubectl delete"),
        ("kubectl get pods && aws s3 ls", EXT, "aws"),
        ("[[ -n $POD ]] && kubectl delete pod $POD", MUT, "kubectl delete"),  # bashlex fails: shlex path
        ("X=1", RO, "assignments"),
    ],
)
def test_classify(text: str, cls: str, reason_part: str) -> None:
    got_cls, reason = classify(text)
    assert (got_cls.value, reason_part in reason) == (cls, True), reason


def test_most_severe_simple_command_wins_in_pipelines() -> None:
    assert classify("kubectl get pods | kubectl delete -f -")[0] is CommandClass.MUTATING
    assert classify("kubectl edit cm a | curl https://api.example.com")[0] is CommandClass.EXTERNAL
    assert classify("kubectl create cm a --from-literal=a=b --dry-run=client -o yaml")[0] is CommandClass.READ_ONLY


def test_split_joins_continuations_pipes_and_and_lists() -> None:
    text = "# first\nkubectl get pods |\n  grep a\n\nkubectl get x &&\n\n  kubectl get y\nfoo \\\n  --bar \\\n  baz\n"
    cmds = split_commands(text, 10, "f.md")
    assert [(c.text, c.line, c.end_line) for c in cmds] == [
        ("kubectl get pods | grep a", 11, 12),
        ("kubectl get x && kubectl get y", 14, 16),
        ("foo --bar baz", 17, 19),
    ]
    assert [c.comment for c in cmds] == ["first", "first", "first"]


def test_split_keeps_hash_in_quotes_and_strips_trailing_comments() -> None:
    text = "echo 'a # b' \"c#d\" e#f  # real comment\n  # indented comment only\ngrep '#' file # x\n"
    cmds = split_commands(text, 1, "f.md")
    assert [c.text for c in cmds] == ["echo 'a # b' \"c#d\" e#f", "grep '#' file"]
    assert cmds[1].comment == "indented comment only"


def test_split_heredoc_and_multiline_quote_keep_newlines() -> None:
    text = "kubectl apply -f - <<EOF\napiVersion: v1\n# not a comment\nEOF\necho 'a\nb'\nkubectl get pods\n"
    cmds = split_commands(text, 1, "f.md")
    assert [(c.line, c.end_line, c.cls.value) for c in cmds] == [(1, 4, MUT), (5, 6, RO), (7, 7, RO)]
    assert cmds[0].text.endswith("# not a comment\nEOF")
    assert cmds[1].text == "echo 'a\nb'"


def test_split_unterminated_quote_is_a_located_error() -> None:
    with pytest.raises(RunbookError, match=r"^f\.md:42: unterminated ' quote"):
        split_commands("kubectl get pods\necho 'oops\n", 41, "f.md")


def test_placeholders_respect_assignments_env_and_quotes() -> None:
    assert find_placeholders("kubectl logs $POD", {"POD"}) == []
    assert find_placeholders("kubectl logs $POD", set()) == ["POD"]
    assert find_placeholders("POD=$(kubectl get pods -o name) && kubectl logs $POD", set()) == []
    assert find_placeholders("ls $HOME ${NAMESPACE}", set()) == ["NAMESPACE"]
    assert find_placeholders("awk '{print $NF}' file", set()) == []
    assert find_placeholders("kubectl set env deploy/a LOG_LEVEL=debug --from-literal=k=API_TOKEN", set()) == [
        "API_TOKEN"
    ]
    assert find_placeholders("docker pull ghcr.io/your-org/agent:working-tag", set()) == ["your-org", "working-tag"]
    cmds = split_commands("POD=$(kubectl get pods -o name)\nkubectl logs $POD\nkubectl logs $OTHER\n", 1, "f")
    assert [c.placeholders for c in cmds] == [[], [], ["OTHER"]]


# The table the issue asks for: commands seen in runbooks of many house styles, with the class a drill must
# give them. Errs safe: a write method or a body is a mutation (or external), an interactive shell is manual.
CLASS_TABLE: list[tuple[str, str]] = [
    # kubectl / oc reads
    ("kubectl get pods -A -o wide", RO), ("kubectl get deploy api -o jsonpath='{.spec.replicas}'", RO),
    ("kubectl describe node worker-1", RO), ("kubectl logs deploy/api --since=10m --tail=200", RO),
    ("kubectl logs -f deploy/api", RO), ("kubectl top pods --containers", RO), ("kubectl top nodes", RO),
    ("kubectl get events --sort-by=.lastTimestamp", RO), ("kubectl rollout status deploy/api", RO),
    ("kubectl rollout history deploy/api", RO), ("kubectl auth can-i get pods", RO), ("kubectl version", RO),
    ("kubectl config current-context", RO), ("kubectl config get-contexts", RO), ("kubectl api-resources", RO),
    ("kubectl explain pod.spec", RO), ("kubectl wait --for=condition=Ready pod/x --timeout=60s", RO),
    ("kubectl diff -f manifest.yaml", RO), ("kubectl cluster-info", RO),
    ("kubectl apply -f x.yaml --dry-run=server", RO), ("kubectl get --raw /readyz", RO),
    ("oc get pods -n app", RO), ("oc describe dc/app", RO), ("oc logs -f dc/app", RO), ("oc status", RO),
    ("oc whoami", RO), ("oc adm top nodes", RO), ("oc rollout status dc/app", RO),
    # kubectl / oc writes
    ("kubectl delete pod api-0", MUT), ("kubectl apply -f fix.yaml", MUT), ("kubectl scale deploy/api --replicas=3", MUT),
    ("kubectl rollout restart deploy/api", MUT), ("kubectl rollout undo deploy/api", MUT),
    ("kubectl set image deploy/api api=img:2", MUT), ("kubectl patch svc api -p '{}'", MUT),
    ("kubectl label node n1 disk=ssd", MUT), ("kubectl cordon n1", MUT), ("kubectl uncordon n1", MUT),
    ("kubectl drain n1 --ignore-daemonsets", MUT), ("kubectl taint nodes n1 k=v:NoSchedule", MUT),
    ("kubectl create configmap c --from-literal=a=b", MUT), ("kubectl config use-context prod", MUT),
    ("kubectl certificate approve csr-1", MUT), ("kubectl run tmp --image=busybox --restart=Never", MUT),
    ("oc delete pod app-1", MUT), ("oc scale dc/app --replicas=0", MUT), ("oc adm drain n1", MUT),
    ("oc project other", MUT), ("oc rollout latest dc/app", MUT), ("kubectl frobnicate all", MUT),
    # interactive or host access
    ("kubectl exec -it api-0 -- sh", MAN), ("kubectl exec -it api-0 -- bash", MAN),
    ("kubectl exec -it api-0 -- /bin/bash", MAN), ("kubectl exec -it api-0", MAN),
    ("oc exec -it app-1 -- bash", MAN), ("oc rsh app-1", MAN), ("kubectl edit deploy/api", MAN),
    ("kubectl port-forward svc/api 8080:80", MAN), ("kubectl debug node/n1 -it --image=busybox", MAN),
    ("kubectl attach -it api-0", MAN), ("ssh core@node-1", MAN), ("journalctl -u kubelet --since -1h", MAN),
    ("systemctl restart kubelet", MAN), ("sudo crictl ps", MAN), ("crictl logs abc", MAN), ("vim cfg.yaml", MAN),
    ("watch -n1 kubectl get pods", MAN), ("less /var/log/syslog", MAN), ("top", MAN), ("k9s", MAN),
    ("tcpdump -i any port 53", MAN), ("redis-cli -h redis", MAN), ("bash", MAN), ("sh -i", MAN),
    ("read -p 'continue?' ok", MAN),
    # exec with a command is judged by that command
    ("kubectl exec api-0 -- cat /etc/resolv.conf", RO), ("kubectl exec api-0 -- sh -c 'ls /data | wc -l'", RO),
    ("kubectl exec api-0 -- bash -c 'rm -rf /tmp/cache'", MUT), ("kubectl exec redis-0 -- redis-cli INFO", RO),
    ("kubectl exec redis-0 -- redis-cli FLUSHALL", MUT), ("oc exec app-1 -- env", RO),
    # helm
    ("helm list -A", RO), ("helm ls -n app", RO), ("helm history api -n app", RO), ("helm status api", RO),
    ("helm get values api -n app", RO), ("helm show values chart/api", RO), ("helm template api chart/", RO),
    ("helm lint chart/", RO), ("helm version", RO), ("helm diff upgrade api chart/", RO),
    ("helm upgrade api chart/ -n app --reuse-values", MUT), ("helm install api chart/", MUT),
    ("helm rollback api 3 -n app", MUT), ("helm uninstall api -n app", MUT), ("helm delete api", MUT),
    ("helm repo add bitnami https://charts.bitnami.com/bitnami", EXT), ("helm repo update", EXT),
    ("helm pull bitnami/redis", EXT),
    # HTTP clients
    ("curl -s http://localhost:8080/healthz", RO), ("curl -sI http://api.app.svc:8080/", RO),
    ("curl -X POST http://localhost:8080/admin/flush", MUT), ("curl -XDELETE http://api.app.svc/cache", MUT),
    ("curl --request PUT http://10.0.0.5/config", MUT), ("curl --request=PATCH http://api/x", MUT),
    ("curl -d 'a=b' http://api/form", MUT), ("curl --data-raw '{}' http://api/x", MUT),
    ("curl --data-binary @f http://api/x", MUT), ("curl --json '{\"a\":1}' http://api/x", MUT),
    ("curl -F file=@x http://api/upload", MUT), ("curl -dfoo=bar http://api/x", MUT),
    ("curl -X GET http://api/x", RO), ("curl -X HEAD http://api/x", RO),
    ("curl -o /tmp/dump http://api/debug/pprof/heap", MUT), ("curl -o /dev/null -w '%{http_code}' http://api/", RO),
    ("curl https://status.example.com/api/v2/status.json", EXT), ("curl -X POST https://hooks.slack.com/x -d '{}'", EXT),
    ("curl http://$HOST/health", EXT), ("curl http://<SERVICE_HOST>/health", EXT),
    ("wget -qO- http://api:8080/metrics", RO), ("wget -O- http://api/x", RO), ("wget --spider http://api/x", RO),
    ("wget http://api/x.tar", MUT), ("wget --post-data 'a=b' -O- http://api/x", MUT),
    ("wget --method=DELETE -O- http://api/x", MUT), ("wget https://example.com/x", EXT),
    ("http :8080/health", RO), ("http GET api.app.svc/health", RO), ("http POST :8080/admin/flush", MUT),
    ("http :8080/users name=x", MUT), ("http PUT api/x a:=1", MUT), ("http https://api.github.com/zen", EXT),
    ("nc -zv redis 6379", RO), ("nc -z example.com 443", EXT),
    ("openssl s_client -connect api.app.svc:443", RO), ("openssl s_client -connect example.com:443", EXT),
    # read-only tools
    ("base64 -d secret.txt", RO), ("echo aGk= | base64 --decode", RO), ("openssl x509 -in tls.crt -noout -text", RO),
    ("openssl version", RO), ("jq '.items[] | .metadata.name' pods.json", RO), ("yq '.spec' d.yaml", RO),
    ("etcdctl endpoint status --write-out=table", RO), ("etcdctl endpoint health", RO), ("etcdctl member list", RO),
    ("etcdctl get /registry --prefix --keys-only", RO), ("dig +short api.example.com", RO),
    ("nslookup kubernetes.default", RO), ("host example.com", RO), ("ping -c 3 10.0.0.1", RO),
    ("df -h /var/lib", RO), ("du -sh /data", RO), ("free -m", RO), ("uptime", RO), ("uname -a", RO),
    ("ss -tlnp", RO), ("netstat -an", RO), ("ip addr show", RO), ("ip route", RO), ("lsof -i :8080", RO),
    ("dmesg | tail -50", RO), ("stat /data/dump.rdb", RO), ("sha256sum release.tar", RO),
    ("diff a.yaml b.yaml", RO), ("grep -c ERROR app.log", RO), ("sort -u ids | wc -l", RO),
    ("awk '{print $1}' access.log | uniq -c", RO), ("find /var/log -name '*.gz'", RO), ("date -u", RO),
    ("git log --oneline -5", RO), ("git status", RO), ("docker ps -a", RO), ("docker logs api", RO),
    ("promtool query instant http://prom:9090 up", RO), ("amtool alert query", RO), ("stern api -n app", RO),
    ("istioctl analyze -n app", RO), ("flux get kustomizations", RO), ("argocd app get api", RO),
    ("export NS=app", RO), ("cd /tmp", RO), ("sleep 30", RO),
    # local writes and unknown tools
    ("rm -rf /tmp/cache", MUT), ("find /data/tmp -mtime +1 -delete", MUT), ("find . -name x -exec rm {} +", MUT),
    ("sed -i 's/a/b/' cfg", MUT), ("yq -i '.a = 1' d.yaml", MUT), ("echo x >> /etc/hosts", MUT),
    ("kubectl get cm c -o yaml > backup.yaml", MUT), ("tee /tmp/out < in", MUT), ("kill -9 1234", MUT),
    ("ip link set eth0 down", MUT), ("iptables -F", MUT), ("etcdctl del /registry/x", MUT),
    ("etcdctl defrag", MUT), ("etcdctl snapshot save s.db", MUT), ("psql -c 'select 1'", MUT),
    ("python3 fix.py", MUT), ("./scripts/rotate.sh", MUT), ("make deploy", MUT), ("kubectx prod", MUT),
    ("kubens app", MUT), ("docker restart api", MUT), ("flux reconcile ks apps", MUT),
    ("argocd app sync api", MUT), ("amtool silence add alertname=X", MUT),
    ("kubectl get pods -o name | xargs kubectl delete", MUT), ("xargs -n1 echo < ids", RO),
    # external systems
    ("aws ec2 describe-instances", EXT), ("gcloud container clusters list", EXT), ("az aks list", EXT),
    ("terraform plan", EXT), ("gh pr list", EXT), ("vault kv get secret/x", EXT), ("docker pull img:1", EXT),
    ("git pull", EXT), ("eksctl get nodegroup --cluster c", EXT),
    # placeholders never read as redirects
    ("kubectl logs <POD_NAME> -n <namespace>", RO), ("kubectl delete pod <pod> -n <my-namespace>", MUT),
    ("kubectl get pods -n [NAMESPACE]", RO), ("kubectl describe pod $POD_NAME", RO),
]


def test_class_table_is_big_enough_and_has_no_duplicates() -> None:
    assert len(CLASS_TABLE) >= 150
    assert len({text for text, _ in CLASS_TABLE}) == len(CLASS_TABLE)


@pytest.mark.parametrize(("text", "cls"), CLASS_TABLE, ids=[t for t, _ in CLASS_TABLE])
def test_class_table(text: str, cls: str) -> None:
    got, reason = classify(text)
    assert got.value == cls, reason


@pytest.mark.parametrize(("text", "placeholders"), [
    ("kubectl logs <POD_NAME> -n <my-namespace>", ["<POD_NAME>", "<my-namespace>"]),
    ("kubectl get pods -n [NAMESPACE] | grep '[a-z]'", ["[NAMESPACE]"]),
    ("curl -H 'Authorization: Bearer YOUR_TOKEN' http://api/x", ["YOUR_TOKEN"]),
    ("curl http://api/YOUR_ORG/x", ["YOUR_ORG"]),
    ("helm upgrade x chart --set image.tag={{ .Values.tag }}", ["{{ .Values.tag }}"]),
    ("kubectl logs ${POD} $NS", ["POD", "NS"]),
    ("NS=app; kubectl get pods -n $NS", []),
    ("grep '[A-Z0-9]' f && cat <in.txt", []),
])
def test_placeholders_in_every_common_spelling(text: str, placeholders: list[str]) -> None:
    assert find_placeholders(text, set()) == placeholders


def test_angle_placeholders_bind_by_name_or_as_written() -> None:
    from drills import steps

    [cmd] = split_commands("kubectl delete pod <POD_NAME> -n <namespace>\n", 1, "f.md")
    assert steps.bind(cmd, {"POD_NAME": "api-0"}) is None  # namespace still unbound
    assert steps.bind(cmd, {"POD_NAME": "api-0", "<namespace>": "my ns"}) == "kubectl delete pod api-0 -n 'my ns'"


def test_each_command_is_tokenized_once_and_bashlex_only_for_compound_commands() -> None:
    import sys

    from drills.runbook.shell import simple_commands

    simple_commands.cache_clear()
    split_commands("kubectl get pods | grep x\nPOD=$(kubectl get pods -o name)\n", 1, "f")
    assert simple_commands.cache_info().misses == 2
    assert simple_commands("for p in a b; do kubectl delete pod $p; done") == (
        ("kubectl", "delete", "pod", "$p"),)
    assert "bashlex" in sys.modules
