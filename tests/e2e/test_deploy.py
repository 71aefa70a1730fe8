"""deploy/: the systemd unit, the Kubernetes manifests and the container image
agree with the real binary (every option they pass is one `glint serve`
accepts, with a valid value), with each other (ports, probes, user ids,
drain time against the stop timeouts) and with deploy/nginx/glint.conf (the
ingress hashes on the same session key)."""
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import GLINT_BIN, ROOT

yaml = pytest.importorskip("yaml")
DEPLOY = os.path.join(ROOT, "deploy")
UNIT = os.path.join(DEPLOY, "systemd", "glint.service")
ENV_EXAMPLE = os.path.join(DEPLOY, "systemd", "glint.env")
DOCKERFILE = os.path.join(DEPLOY, "docker", "Dockerfile")
# After --drain-timeout, glint takes up to 2 s to cancel what is left and 2 s
# for WebSockets to close (server::Server::Drain).
DRAIN_TAIL_S = 4


# --- glint serve's own options ---------------------------------------------

def serve_help(glint_bin):
    return subprocess.run([glint_bin, "serve", "--help"], capture_output=True, text=True,
                          timeout=30, check=True).stdout


def serve_options(glint_bin):
    """The option names `glint serve --help` lists (-t and --threads alike)."""
    names = set()
    for line in serve_help(glint_bin).splitlines():
        m = re.match(r"\s+(-[^\s]+)", line)
        if m:
            names.update(m.group(1).split(","))
    assert "--drain-timeout" in names and "--keys" in names, names
    return names


def default_drain_timeout(glint_bin):
    m = re.search(r"^\s+--drain-timeout .*=(\d+)\s*$", serve_help(glint_bin), re.M)
    assert m, "no default for --drain-timeout in glint serve --help"
    return int(m.group(1))


def option_value(argv, name):
    """The value given to option `name` in argv (--name V or --name=V), or None."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def check_serve_argv(glint_bin, argv, tmp_path):
    """argv (after `serve`) uses only options glint serve has, with values it
    accepts: CLI11 converts and range-checks every value before it honours
    --help, so `serve ARGV --help` fails on a bad value. --keys must name an
    existing file; a stand-in is used."""
    known = serve_options(glint_bin)
    for a in argv:
        if a.startswith("-"):
            assert a.split("=", 1)[0] in known, f"glint serve has no option {a}"
    keys = tmp_path / "keys.json"
    keys.write_text('{"keys": []}')
    argv = list(argv)
    for i, a in enumerate(argv):
        if a.startswith("--keys="):
            argv[i] = f"--keys={keys}"
        elif i > 0 and argv[i - 1] == "--keys":
            argv[i] = str(keys)
    proc = subprocess.run([glint_bin, "serve", *argv, "--help"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, f"glint serve {' '.join(argv)}: {proc.stderr}"
    # glint refuses a non-loopback address without keys (or --insecure).
    host = option_value(argv, "--host") or "127.0.0.1"
    if host not in ("127.0.0.1", "::1", "localhost"):
        assert option_value(argv, "--keys") or "--insecure" in argv, argv


# --- systemd ---------------------------------------------------------------

def unit_settings(path):
    """[(section, key, value)] in file order (keys may repeat)."""
    out, section = [], None
    for raw in open(path):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def unit_values(key):
    return [v for s, k, v in unit_settings(UNIT) if s == "Service" and k == key]


def unit_value(key):
    values = unit_values(key)
    assert len(values) == 1, f"{key}= set {len(values)} times in glint.service"
    return values[0]


def env_file(path):
    env = {}
    for raw in open(path):
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def unit_environment():
    """What the service sees: Environment= defaults, then the env example."""
    env = {}
    for assignment in unit_values("Environment"):
        key, _, value = assignment.partition("=")
        env[key] = value
    env.update(env_file(ENV_EXAMPLE))
    return env


def exec_start_argv(credentials_dir="/run/credentials/glint.service"):
    """ExecStart as systemd runs it with the example environment: ${VAR} is
    one word, $VAR splits on spaces, %d is the credentials directory."""
    env = unit_environment()
    argv = []
    for word in shlex.split(unit_value("ExecStart")):
        m = re.fullmatch(r"\$([A-Za-z_]\w*)", word)
        if m:
            argv.extend(env[m.group(1)].split())
            continue
        word = re.sub(r"\$\{([A-Za-z_]\w*)\}", lambda m: env[m.group(1)], word)
        argv.append(word.replace("%d", credentials_dir))
    return argv


def test_the_unit_passes_systemd_analyze_verify(glint_bin, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # verify wants ExecStart's binary to exist: point it at the one built here.
    text = open(UNIT).read()
    binary = shlex.split(unit_value("ExecStart"))[0]
    assert binary.startswith("/"), binary
    unit = tmp_path / "glint.service"
    unit.write_text(text.replace(f"ExecStart={binary} ", f"ExecStart={os.path.abspath(glint_bin)} "))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    # A setting systemd cannot parse is only a warning ("..., ignoring"),
    # with exit status 0: any message about this unit fails the test.
    about_unit = [l for l in (proc.stdout + proc.stderr).splitlines() if "glint.service" in l]
    assert proc.returncode == 0 and not about_unit, proc.stdout + proc.stderr


def test_the_unit_runs_unprivileged_and_hardened():
    assert unit_value("DynamicUser") == "yes" or unit_values("User") not in ([], ["root"])
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("MemoryDenyWriteExecute", "yes"), ("CapabilityBoundingSet", "")]:
        assert unit_value(key) == value, key
    assert set(unit_value("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in unit_values("SystemCallFilter")
    assert int(unit_value("LimitNOFILE")) >= 4096
    assert unit_value("Restart") == "on-failure"


def test_the_unit_finds_models_and_keys():
    # The models: $GLINT_HOME/models (engine::ModelsDir), in the cache
    # directory systemd hands to the service (%C: /var/cache).
    cache = unit_value("CacheDirectory")
    assert unit_environment()["GLINT_HOME"] == f"%C/{cache}"
    # The keys: the credential systemd copies in, where --keys looks.
    name, _, source = unit_value("LoadCredential").partition(":")
    assert source.startswith("/etc/"), source
    assert option_value(exec_start_argv("/creds"), "--keys") == f"/creds/{name}"
    assert unit_value("EnvironmentFile").lstrip("-") == "/etc/glint/glint.env"


def test_the_unit_stops_after_glint_has_drained(glint_bin):
    assert unit_value("KillSignal") == "SIGTERM"
    drain = option_value(exec_start_argv(), "--drain-timeout")
    drain = int(drain) if drain is not None else default_drain_timeout(glint_bin)
    stop = unit_value("TimeoutStopSec")
    assert re.fullmatch(r"\d+s?", stop), stop
    assert int(stop.rstrip("s")) > drain + DRAIN_TAIL_S, (stop, drain)


def test_every_option_of_the_unit_and_env_example_is_accepted(glint_bin, tmp_path):
    argv = exec_start_argv()
    assert argv[0].endswith("/glint") and argv[1] == "serve", argv
    check_serve_argv(glint_bin, argv[2:], tmp_path)
    # Every variable of the example is one the unit uses (a misspelt name
    # would silently change nothing), and every one it uses has a value.
    used = set(re.findall(r"\$\{?([A-Za-z_]\w*)", unit_value("ExecStart")))
    assert set(env_file(ENV_EXAMPLE)) <= used | {"GLINT_HOME"}, env_file(ENV_EXAMPLE)
    assert used <= set(unit_environment()), used


# --- Kubernetes ------------------------------------------------------------

def k8s(name):
    with open(os.path.join(DEPLOY, "k8s", name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    assert len(docs) == 1, name
    return docs[0]


def glint_container(deployment):
    (c,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "glint"]
    return c


def container_port(container, port):
    """A probe's or Service's port (a number or a port name) as a number."""
    if isinstance(port, int):
        assert port in [p["containerPort"] for p in container["ports"]], port
        return port
    (p,) = [p for p in container["ports"] if p.get("name") == port]
    return p["containerPort"]


def container_argv(container):
    """The args with the container's env references $(VAR) resolved the way
    the kubelet would (a CPU limit of "4" gives 4)."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["resourceFieldRef"]
            env[e["name"]] = str(container["resources"]["limits"][ref["resource"].split(".")[1]])
    return [re.sub(r"\$\(([A-Za-z_]\w*)\)", lambda m: env[m.group(1)], a)
            for a in container["args"]]


def test_the_manifests_parse():
    for name in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        if name.endswith(".yaml"):
            doc = k8s(name)
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], name


def test_the_deployment_probes_health_on_the_port_glint_listens_on(glint_bin, tmp_path):
    c = glint_container(k8s("deployment.yaml"))
    argv = container_argv(c)
    assert argv[0] == "serve", argv
    check_serve_argv(glint_bin, argv[1:], tmp_path)
    port = int(option_value(argv, "--port"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/health", probe
        assert container_port(c, get["port"]) == port, probe
    # --threads follows the CPU limit: glint would otherwise use every core
    # of the node.
    assert option_value(argv, "--threads") == str(c["resources"]["limits"]["cpu"])
    assert "memory" in c["resources"]["limits"]


def test_the_deployment_drains_before_it_is_killed(glint_bin):
    d = k8s("deployment.yaml")
    c = glint_container(d)
    drain = option_value(container_argv(c), "--drain-timeout")
    drain = int(drain) if drain is not None else default_drain_timeout(glint_bin)
    pre_stop = 0
    if "lifecycle" in c:
        command = c["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0].endswith("sleep"), command
        pre_stop = int(command[1])
    grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pre_stop + drain + DRAIN_TAIL_S, (grace, pre_stop, drain)


def test_the_deployment_runs_unprivileged_with_models_and_keys_mounted():
    d = k8s("deployment.yaml")
    pod = d["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    volumes = {v["name"]: v for v in pod["volumes"]}
    for c in pod["initContainers"] + pod["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert all(m["name"] in volumes for m in c.get("volumeMounts", [])), c["name"]
    c = glint_container(d)
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in c["env"]}
    # The models where engine::ModelsDir looks, filled by the init container.
    models = mounts[env["GLINT_HOME"] + "/models"]
    (init,) = pod["initContainers"]
    init_env = {e["name"]: e.get("value") for e in init["env"]}
    assert {m["mountPath"]: m["name"] for m in init["volumeMounts"]}[
        init_env["GLINT_HOME"] + "/models"] == models
    # The keys from a Secret, where --keys points.
    keys = option_value(container_argv(c), "--keys")
    volume = volumes[mounts[os.path.dirname(keys)]]
    assert [i["path"] for i in volume["secret"]["items"]] == [os.path.basename(keys)]


def test_the_service_targets_the_container_port():
    d, s = k8s("deployment.yaml"), k8s("service.yaml")
    c = glint_container(d)
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert s["spec"]["selector"].items() <= labels.items()
    assert s["spec"]["type"] == "ClusterIP"
    port = int(option_value(container_argv(c), "--port"))
    assert [container_port(c, p["targetPort"]) for p in s["spec"]["ports"]] == [port]


# The maps of an nginx configuration: variable -> (source, {value: result}).
MAP_RE = re.compile(r"map\s+\$(\w+)\s+\$(\w+)\s*\{([^}]*)\}")


def nginx_maps(text):
    maps = {}
    for source, target, body in MAP_RE.findall(text):
        entries = {}
        for line in body.strip().splitlines():
            key, value = line.strip().rstrip(";").split(None, 1)
            entries[key.strip('"')] = value.strip()
        maps[target] = (source, entries)
    return maps


def nginx_eval(expr, maps, request):
    """An nginx value ($var or text) for a request given as nginx variables."""
    if not expr.startswith("$"):
        return expr
    name = expr[1:]
    if name not in maps:
        return request.get(name, "")
    source, entries = maps[name]
    value = nginx_eval("$" + source, maps, request)
    return nginx_eval(entries.get(value, entries["default"]), maps, request)


SAMPLE_REQUESTS = [
    {"remote_addr": "10.0.0.1"},
    {"remote_addr": "10.0.0.1", "http_x_glint_session": "alice"},
    {"remote_addr": "10.0.0.1", "http_session_id": "codex-1"},
    {"remote_addr": "10.0.0.1", "arg_session": "tab-7"},
    {"remote_addr": "10.0.0.1", "http_x_glint_session": "alice", "http_session_id": "codex-1",
     "arg_session": "tab-7"},
    {"remote_addr": "10.0.0.2", "http_session_id": "codex-2", "arg_session": "tab-8"},
]


def test_the_ingress_hashes_on_the_session_key_of_glint_conf():
    conf = open(os.path.join(DEPLOY, "nginx", "glint.conf")).read()
    (conf_key,) = re.findall(r"hash\s+(\$\w+)\s+consistent;", conf)
    conf_maps = nginx_maps(conf)
    ingress = k8s("ingress.yaml")
    annotations = ingress["metadata"]["annotations"]
    ingress_key = annotations["nginx.ingress.kubernetes.io/upstream-hash-by"]
    ingress_maps = nginx_maps(k8s("ingress-nginx-config.yaml")["data"]["http-snippet"])
    keys = []
    for request in SAMPLE_REQUESTS:
        want = nginx_eval(conf_key, conf_maps, request)
        got = nginx_eval(ingress_key, ingress_maps, request)
        assert got == want, (request, got, want)
        keys.append(want)
    # The key is the session header when there is one (not a constant).
    assert keys[1] == "alice" and keys[4] == "alice" and len(set(keys)) == 5, keys


def test_the_ingress_proxies_like_glint_conf():
    conf = open(os.path.join(DEPLOY, "nginx", "glint.conf")).read()
    ingress = k8s("ingress.yaml")
    a = {k.split("/", 1)[1]: v for k, v in ingress["metadata"]["annotations"].items()
         if k.startswith("nginx.ingress.kubernetes.io/")}

    def directive(name):
        (value,) = re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.M)
        return value

    assert a["proxy-read-timeout"] + "s" == directive("proxy_read_timeout")
    assert a["proxy-send-timeout"] + "s" == directive("proxy_send_timeout")
    assert a["proxy-buffering"] == directive("proxy_buffering") == "off"
    assert a["proxy-body-size"] == directive("client_max_body_size")
    # The backend is the Service, on one of its ports.
    s = k8s("service.yaml")
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert backend["name"] == s["metadata"]["name"]
    port = backend["port"]
    assert any(p.get("name") == port.get("name") or p["port"] == port.get("number")
               for p in s["spec"]["ports"]), port


# --- the container image ---------------------------------------------------

def dockerfile_stages():
    """[(name, [(instruction, arguments)])], continuation lines joined."""
    text = re.sub(r"\\\n", " ", open(DOCKERFILE).read())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            stages.append((m.group(2), [("FROM", m.group(1))]))
        else:
            stages[-1][1].append((op.upper(), rest.strip()))
    return stages


def apt_installs(instructions):
    pkgs = []
    for op, rest in instructions:
        if op == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]+)", rest):
                pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def test_the_image_builds_a_release_and_serves_as_a_user(glint_bin, tmp_path):
    stages = dict(dockerfile_stages())
    last_name, last = dockerfile_stages()[-1]
    build = stages["build"]
    assert build[0][1].startswith("debian:bookworm") and last[0][1].startswith("debian:bookworm")
    runs = " ".join(rest for op, rest in build if op == "RUN")
    assert "scripts/install-deps" in runs and "-DCMAKE_BUILD_TYPE=Release" in runs
    # The binary comes from where the build stage puts it.
    build_dir = re.search(r"-B (\S+)", runs).group(1)
    workdir = [rest for op, rest in build if op == "WORKDIR"][-1]
    copies = [rest for op, rest in last if op == "COPY" and rest.startswith("--from=build")]
    assert copies and copies[0].split()[1] == f"{workdir}/{build_dir}/glint", copies
    # Not root, and the user the Deployment runs as.
    (user,) = [rest for op, rest in last if op == "USER"]
    uid = int(user.split(":")[0])
    assert uid != 0
    pod = k8s("deployment.yaml")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == uid
    # The default command is a valid glint serve.
    (cmd,) = [json.loads(rest) for op, rest in last if op == "CMD"]
    assert cmd[0] == "serve"
    check_serve_argv(glint_bin, cmd[1:], tmp_path)


def test_the_image_has_the_libraries_glint_links_against(glint_bin):
    if not (shutil.which("ldd") and shutil.which("dpkg-query") and shutil.which("dpkg")):
        pytest.skip("needs ldd and dpkg (Debian) to map libraries to packages")
    # Packages that own the libraries the built binary loads.
    ldd = subprocess.run(["ldd", glint_bin], capture_output=True, text=True, check=True).stdout
    needed = set()
    for lib in re.findall(r"=>\s+(/\S+)", ldd):
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True,
                               text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        assert owner.returncode == 0, f"no Debian package owns {lib}"
        needed.add(owner.stdout.split(":")[0])
    # What the runtime stage installs, with the packages they depend on; the
    # C and C++ runtimes come with debian:bookworm-slim (apt needs them).
    have = set(apt_installs(dockerfile_stages()[-1][1])) | {"libc6", "libgcc-s1", "libstdc++6"}
    todo = list(have)
    while todo:
        deps = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", todo.pop()],
                              capture_output=True, text=True).stdout
        for alt in deps.split(","):
            name = alt.split("|")[0].split("(")[0].split(":")[0].strip()
            if name and name not in have:
                have.add(name)
                todo.append(name)
    assert needed <= have, f"the runtime stage lacks {sorted(needed - have)}"


def test_the_image_copies_only_what_the_build_context_holds():
    ignore = os.path.join(DEPLOY, "docker", "Dockerfile.dockerignore")
    patterns = [l.strip() for l in open(ignore) if l.strip() and not l.startswith("#")]
    for _, instructions in dockerfile_stages():
        for op, rest in instructions:
            if op != "COPY" or "--from=" in rest:
                continue
            sources = [w for w in rest.split() if not w.startswith("--")][:-1]
            for src in sources:
                if src == ".":
                    continue
                assert os.path.exists(os.path.join(ROOT, src)), src
                parts = src.split("/")
                assert not any(fnmatch.fnmatch("/".join(parts[:i]), p.lstrip("*/"))
                               for p in patterns for i in range(1, len(parts) + 1)), src
