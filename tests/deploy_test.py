#!/usr/bin/env python3
"""The deployment files agree with the binary they deploy (docs/deploy.md).

No container engine runs on the project's machines, so deploy/Dockerfile,
deploy/compose.yaml, deploy/prometheus.yml and deploy/k8s/*.yaml are never run here.
This test reads them and checks what can be checked without running them:

  parse        every file can be read (in YAML, no key twice in a mapping)
  flags        every `guanxi` command line (Dockerfile CMD, compose, Kubernetes) uses
               flags that `guanxi SUBCOMMAND --help` lists, with a value where one is
               taken; every word of a command line in YAML is a string
  config       every configuration file in deploy/ (the ConfigMap's too) is accepted by
               the binary
  topics       the topic names the files use are the configuration's; every guanxi
               process of a deployment reads the same topic names
  group        every engine instance of a deployment is in the same consumer group
  brokers      the brokers named reach the Kafka of the deployment (compose), and no
               deployment runs on the in-process development cluster
  port         one HTTP port everywhere: --http, EXPOSE, published and container ports,
               probes, Services, Prometheus targets, --advertise
  advertise    each instance advertises an address that reaches itself
  data         one data path: --data, VOLUME, the volume mounts
  config-path  one configuration path: --config, the COPY destination, the mounts
  probe        every probed or scraped path is an endpoint the HTTP server serves
               (engine/query/http_server.cc)
  packages     the runtime stage's packages ship every shared library `ldd` lists for
               the binary (`dpkg -S`), and nothing else but ca-certificates
  image        the binary is copied from where the build preset puts it, onto PATH;
               ENTRYPOINT and CMD are in exec form; every COPY source exists; the
               build stage copies every folder and file the build reads
  user         the pods run as the image's non-root user
  selector     Services and the disruption budget select the engine's pods
  memory       the pods' memory limit covers the budget of docs/storage.md
  sizing       no more engine instances than partitions
  mounts       every mounted file exists; every named volume is declared
  loopback     compose publishes every port on 127.0.0.1 only
  kustomize    kustomization.yaml lists every manifest, and only files that exist
  dashboard    every series a Grafana dashboard (deploy/**/*.json) queries is one the
               engine serves (the series engine/query/http_server.cc writes, not a
               histogram's family name), or Prometheus's own `up`; every label it
               matches, groups by or shows in a legend is one the engine or Prometheus
               puts on those series; every job it names is one of deploy/prometheus.yml
  grafana      compose's Grafana agrees with its provisioning files: the data source
               reaches the prometheus service on its port, with its scrape interval; the
               dashboard provider reads where the dashboards are mounted and loads every
               dashboard of deploy/; every data source a dashboard names is provisioned;
               the home dashboard exists; anonymous visitors can only view

Then it plants one mistake of each kind in a temporary copy of deploy/ and checks that
the check meant to catch it does (disable with --no-mutations).

Usage: deploy_test.py SOURCE_DIR GUANXI_BINARY [--no-mutations]
Prints every disagreement as `file: field: what [check]` and exits 1 when there is one.
Needs PyYAML: Debian's python3-yaml, which scripts/setup-deps.sh installs for
/usr/bin/python3, the interpreter ctest runs this with.
"""
import dataclasses
import functools
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit(f"deploy_test.py: no PyYAML for {sys.executable}: run scripts/setup-deps.sh "
             f"(Debian's python3-yaml) and this with /usr/bin/python3")

# ---------------------------------------------------------------------------------------
# YAML, by PyYAML's safe loader: every scalar has its YAML type (8080 an int, true a bool,
# "8080" a string).


class YamlLoader(yaml.SafeLoader):
    """yaml.SafeLoader, except that a key twice in one mapping is an error, as it is to
    compose and kubectl (PyYAML alone keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key.value!r} twice", key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)


# ---------------------------------------------------------------------------------------
# Protobuf text format, enough to read the fields of a guanxi.v1.EngineConfig. Whether a
# file is a valid configuration is the binary's to say (check_config_text); this reader
# only finds the values the other checks compare.

_TP_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_TP_TOKEN = re.compile(r"""\s+|\#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
                       r"""|[{}<>\[\]:;,]|[^\s{}<>\[\]:;,"'#]+""")


def read_textproto(text, name):
    """A message as {field: [values]}; a value is a string or a message."""
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        m = _TP_TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"{name}:{line}: cannot read {text[pos:pos + 20]!r}")
        token = m.group(0)
        if not token[0].isspace() and token[0] != "#":
            tokens.append(token)
        line += token.count("\n")
        pos = m.end()

    def unquote(token):
        return re.sub(r"\\(.)", lambda e: _TP_ESCAPES.get(e.group(1), e.group(1)), token[1:-1])

    def scalar(i):
        if tokens[i][0] in "\"'":
            value = ""
            while i < len(tokens) and tokens[i][0] in "\"'":
                value += unquote(tokens[i])
                i += 1
            return value, i
        return tokens[i], i + 1

    def message(i, close):
        fields = {}
        while i < len(tokens):
            if tokens[i] == close:
                return fields, i + 1
            field = tokens[i]
            i += 1
            if tokens[i] == ":":
                i += 1
            if tokens[i] in ("{", "<"):
                value, i = message(i + 1, "}" if tokens[i] == "{" else ">")
                fields.setdefault(field, []).append(value)
            elif tokens[i] == "[":
                i += 1
                while tokens[i] != "]":
                    value, i = scalar(i)
                    fields.setdefault(field, []).append(value)
                    if tokens[i] == ",":
                        i += 1
                i += 1
            else:
                value, i = scalar(i)
                fields.setdefault(field, []).append(value)
            if i < len(tokens) and tokens[i] in (",", ";"):
                i += 1
        if close is not None:
            raise ValueError(f"{name}: a message is not closed")
        return fields, i

    try:
        return message(0, None)[0]
    except IndexError:
        raise ValueError(f"{name}: ends in the middle of a field") from None


class EngineConfig:
    """A configuration file over the defaults (deploy/guanxi.conf.textproto), as the
    engine reads it: a field the file leaves out takes the default."""

    def __init__(self, path, layers):
        self.path, self.layers = path, layers

    def get(self, *path):
        for layer in self.layers:
            node = layer
            for segment in path[:-1]:
                values = node.get(segment)
                node = values[-1] if values and isinstance(values[-1], dict) else {}
            if path[-1] in node:
                return node[path[-1]][-1]
        return None

    def topics(self):
        """{field: topic name} of every *_topic field of kafka."""
        names = {}
        for layer in reversed(self.layers):
            for kafka in layer.get("kafka", []):
                for field, values in kafka.items():
                    if field.endswith("_topic"):
                        names[field] = values[-1]
        return names

    def properties(self):
        result = {}
        for layer in reversed(self.layers):
            for kafka in layer.get("kafka", []):
                for p in kafka.get("properties", []):
                    result[p.get("name", [""])[-1]] = p.get("value", [""])[-1]
        return result


# ---------------------------------------------------------------------------------------
# The Dockerfile.


@dataclasses.dataclass
class Instruction:
    line: int
    keyword: str
    args: str


@dataclasses.dataclass
class Stage:
    name: str
    instructions: list

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]


def read_dockerfile(text):
    """The stages of a Dockerfile, each with its instructions (continuations joined)."""
    stages, pending, start = [], "", 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is dropped, as by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        keyword = keyword.upper()
        if "<<" in args and keyword in ("RUN", "COPY"):
            raise ValueError(f"Dockerfile:{start}: here-documents are not supported by this test")
        if keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            stages.append(Stage(m.group(2) or str(len(stages)), []))
            continue
        if not stages:
            if keyword == "ARG":
                continue
            raise ValueError(f"Dockerfile:{start}: {keyword} before FROM")
        stages[-1].instructions.append(Instruction(start, keyword, args.strip()))
    return stages


def exec_form(args):
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def copy_parts(args):
    """(options, sources, destination) of a COPY or ADD."""
    words = exec_form(args) or shlex.split(args)
    options = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        options[name] = value
    return options, words[:-1], words[-1] if words else ""


def shell_commands(script):
    """Every simple command of a RUN's shell script, as words (&&, ||, ;, | split)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for word in lexer:
        if word in ("&&", "||", ";", "|", "&", "(", ")"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(word)
    if current:
        commands.append(current)
    # "VAR=value command": the assignments are not the command.
    return [[w for i, w in enumerate(c) if not (re.match(r"\w+=", w) and
                                               all(re.match(r"\w+=", x) for x in c[:i + 1]))]
            for c in commands]


# ---------------------------------------------------------------------------------------
# What the binary and the sources say.


@dataclasses.dataclass
class Flag:
    takes_value: bool
    required: bool
    default: str


@dataclasses.dataclass
class Command:
    flags: dict
    positionals: bool


class Binary:
    """The facts the binary gives, each asked once (the mutations ask again and again)."""

    def __init__(self, path):
        self.path = str(path)

    def run(self, *args):
        return subprocess.run([self.path, *args], capture_output=True, text=True, timeout=60)

    @functools.cache
    def commands(self):
        out = self.run("--help").stdout
        section = out.split("Commands:", 1)[1] if "Commands:" in out else ""
        return set(re.findall(r"^  ([a-z][a-z-]*)\s", section, re.MULTILINE))

    @functools.cache
    def command(self, name):
        """The flags of `guanxi NAME`, from its --help; None if it has no such command."""
        if name not in self.commands():
            return None
        result = self.run(name, "--help")
        flags, lines = {}, result.stdout.split("\n")
        for i, line in enumerate(lines):
            m = re.match(r"^  --([a-z0-9-]+)(?: (\S+))?\s*$", line)
            if m:
                text = lines[i + 1] if i + 1 < len(lines) else ""
                default = re.search(r"\(default: ([^)]*)\)", text)
                flags[m.group(1)] = Flag(m.group(2) is not None, "(required)" in text,
                                         default.group(1) if default else "")
        usage = lines[0] if lines else ""
        # A positional argument: an upper-case word in the usage line not after a flag.
        words = usage.split()
        positionals = any(re.fullmatch(r"\[?[A-Z][A-Z_.]*\]?", w) and
                          not words[j - 1].lstrip("[").startswith("--")
                          for j, w in enumerate(words) if j > 0)
        return Command(flags, positionals)

    @functools.cache
    def validate_config(self, text):
        """(accepted, message). The check is `guanxi replay --data EMPTY --config FILE`:
        replay reads and validates the configuration before anything else and then fails
        on the empty data directory, with exit 1; a configuration it refuses is a usage
        error (exit 2) naming the file, line and field. Offline and instant, unlike
        `guanxi topics`, which would try to reach a cluster."""
        with tempfile.TemporaryDirectory(prefix="deploy_test.") as tmp:
            path = pathlib.Path(tmp, "guanxi.conf.textproto")
            path.write_text(text, encoding="utf-8")
            (pathlib.Path(tmp) / "data").mkdir()
            result = self.run("replay", "--data", f"{tmp}/data", "--config", str(path))
            message = (result.stderr.strip().replace(str(path), "FILE")
                       .replace(tmp, "TMP").split("\n")[-1])
        if result.returncode == 2:
            return False, message
        if result.returncode == 1 and "no partition stores" in result.stderr:
            return True, ""
        return False, f"could not tell: `guanxi replay` exited {result.returncode}: {message}"

    @functools.cache
    def linked_packages(self):
        """({package: [libraries]}, [problems]) for every shared library ldd lists."""
        result = subprocess.run(["ldd", self.path], capture_output=True, text=True)
        if result.returncode != 0:
            return {}, [f"ldd {self.path} failed: {result.stderr.strip()}"]
        libraries, problems = {}, []
        for line in result.stdout.split("\n"):
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if not m:
                continue
            if m.group(2) == "not":
                problems.append(f"ldd: {m.group(1)} not found on this machine")
                continue
            path = m.group(2)
            real = os.path.realpath(path)
            variants = []
            for p in (path, real):
                variants.append(p)
                # usrmerge: /lib is /usr/lib, and dpkg knows each file by one of the two.
                variants.append(p[4:] if p.startswith("/usr/lib/") else "/usr" + p
                                if p.startswith("/lib/") else p)
            libraries[m.group(1)] = list(dict.fromkeys(variants))
        owners = {}
        every = sorted({v for vs in libraries.values() for v in vs})
        query = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True)
        for line in query.stdout.split("\n"):
            m = re.match(r"(.+?): (/\S+)$", line)
            if m:
                owners[m.group(2)] = [p.strip().split(":")[0] for p in m.group(1).split(",")]
        packages = {}
        for library, variants in libraries.items():
            owner = next((owners[v] for v in variants if v in owners), None)
            if owner is None:
                problems.append(f"no Debian package ships {library} ({variants[0]}; dpkg -S)")
                continue
            packages.setdefault(owner[0], []).append(library)
        return packages, problems


def http_routes(root):
    """The paths the HTTP server serves: literal routes and regular expressions."""
    text = (root / "engine/query/http_server.cc").read_text(encoding="utf-8")
    routes = []
    for m in re.finditer(r'\.Get\(\s*(?:R"\((.*?)\)"|"((?:[^"\\]|\\.)*)")', text, re.DOTALL):
        routes.append(m.group(1) if m.group(1) is not None else re.escape(m.group(2)))
    return routes


def served_metrics(root):
    """{series name: {label names}} of what GET /metrics serves, read from the series
    names engine/query/http_server.cc writes ("guanxi_x " or "guanxi_x{label=\\"..."),
    and {family: type} of its metric("name", "type", ...) declarations."""
    text = (root / "engine/query/http_server.cc").read_text(encoding="utf-8")
    series = {}
    for m in re.finditer(r'"(guanxi_[a-z0-9_]+)([{ ])', text):
        labels = series.setdefault(m.group(1), set())
        if m.group(2) == "{":
            end = text.find('}', m.end())
            labels.update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)=\\"', text[m.end():end]))
    families = dict(re.findall(r'metric\(\s*"(guanxi_[a-z0-9_]+)",\s*"([a-z]+)"', text))
    return series, families


# Series Prometheus adds for every target it scrapes, and the labels it adds to every
# scraped series (deploy/prometheus.yml relabels nothing).
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
TARGET_LABELS = {"instance", "job"}
_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                    "or", "unless", "offset", "bool", "inf", "nan"}
_PROMQL_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'


def promql_names(expr):
    """What a PromQL expression (Grafana's variables in it) refers to: ([(series name,
    {label names its matchers name})], {label names of its by/without/on/ignoring/
    group_left/group_right clauses}, [values its matchers give the label job])."""
    jobs = re.findall(r'\bjob\s*=\s*"([^"]*)"', expr)
    text = re.sub(_PROMQL_STRING, '""', expr)
    selectors, grouping = [], set()

    def selector(m):
        name = m.group(1)
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)', m.group(2)))
        if name and name not in _PROMQL_KEYWORDS:
            selectors.append((name, labels - {"__name__"}))
            return " "
        return f" {name or ''} "

    text = re.sub(r'([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}', selector, text)
    text = re.sub(r'\[[^\]]*\]', " ", text)                       # ranges, subqueries
    for m in re.finditer(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)',
                         text):
        grouping.update(w for w in re.split(r'[\s,]+', m.group(1)) if w)
    text = re.sub(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', " ", text)
    text = re.sub(r'\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*', " ", text)   # Grafana variables
    text = re.sub(r'\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?\b', " ", text)
    for m in re.finditer(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?', text):
        if m.group(2) is None and m.group(1).lower() not in _PROMQL_KEYWORDS:
            selectors.append((m.group(1), set()))
    return selectors, grouping, jobs


def dashboard_queries(dashboard):
    """(where, query, legend, variable) of every query of a Grafana dashboard: its panels'
    targets (rows' collapsed panels too), with their legendFormat, and its query
    variables (variable true)."""
    def panels(items, where):
        for panel in items or []:
            title = f"{where}panels[{panel.get('title') or panel.get('id')}]"
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    yield (f"{title}.targets[{target.get('refId')}]", target["expr"],
                           target.get("legendFormat") or "", False)
            yield from panels(panel.get("panels"), title + ".")

    yield from panels(dashboard.get("panels"), "")
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if query:
            yield f"templating[{variable.get('name')}].query", query, "", True


def datasource_uids(node):
    """Every data source uid a dashboard names, anywhere in it."""
    if isinstance(node, dict):
        source = node.get("datasource")
        if isinstance(source, dict) and isinstance(source.get("uid"), str):
            yield source["uid"]
        for value in node.values():
            yield from datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasource_uids(value)


def unique_keys(pairs):
    """A JSON object, except that a key twice is an error (as in YAML above)."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} twice")
        result[key] = value
    return result


def is_image(image, name):
    """An image reference to NAME (repository/name), whatever its registry, tag or digest."""
    return (image or "").split("@")[0].rsplit(":", 1)[0].endswith(name)


# ---------------------------------------------------------------------------------------
# The checks.

# Packages the base image (debian:bookworm-slim) has: libc, libstdc++, libgcc.
BASE_IMAGE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
# Runtime packages that ship no library of the binary but are there for a reason the
# Dockerfile gives.
EXTRA_RUNTIME_PACKAGES = {"ca-certificates"}
TOPIC_FLAGS = {"--topic", "--entity-name"}


@dataclasses.dataclass(frozen=True)
class Failure:
    check: str
    file: str
    field: str
    message: str

    def __str__(self):
        return f"{self.file}: {self.field}: {self.message} [{self.check}]"


@dataclasses.dataclass
class Invocation:
    """One `guanxi` command line of a deployment file."""
    file: str
    field: str
    argv: list            # after "guanxi"
    flags: dict = dataclasses.field(default_factory=dict)   # --name -> value (None: boolean)

    @property
    def subcommand(self):
        return self.argv[0] if self.argv else ""


def host_port(value):
    m = re.fullmatch(r"(.*):(\d+)", value or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)


def is_guanxi_image(image):
    """An image reference to the guanxi image, whatever its registry, tag or digest."""
    return (image or "").split("@")[0].rsplit("/", 1)[-1].split(":")[0] == "guanxi"


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


class Checker:
    def __init__(self, root, binary):
        self.root = pathlib.Path(root).resolve()
        self.binary = binary
        self.failures = []
        self.routes = http_routes(self.root)
        self.defaults = None
        self.image = None
        self.dashboards = {}   # path -> the parsed dashboard (None: not one)

    def fail(self, check, file, field, message):
        failure = Failure(check, file, field, message)
        if failure not in self.failures:
            self.failures.append(failure)

    def rel(self, path):
        return pathlib.Path(path).relative_to(self.root).as_posix()

    # --- shared helpers -------------------------------------------------------------

    def yaml_documents(self, path):
        """The documents of a YAML file, empty ones left out."""
        file = self.rel(path)
        try:
            with open(path, encoding="utf-8") as stream:
                return [d for d in yaml.load_all(stream, Loader=YamlLoader) if d is not None]
        except yaml.YAMLError as e:
            self.fail("parse", file, "(YAML)", " ".join(str(e).replace(str(path), file).split()))
            return []

    def words(self, value, file, field):
        """A command line of a YAML file as words: a list as it is, a string split as a
        shell would. Compose and Kubernetes take strings only."""
        if value is None:
            return None
        if isinstance(value, str):
            return shlex.split(value)
        for word in value:
            if not isinstance(word, str):
                self.fail("flags", file, field, f"{word!r} is a YAML {type(word).__name__}, "
                                                f"not a string: quote it")
        return [str(word) for word in value]

    def parse_invocation(self, inv):
        """Checks an invocation's flags against `guanxi SUBCOMMAND --help`; fills inv.flags."""
        command = self.binary.command(inv.subcommand)
        if command is None:
            self.fail("flags", inv.file, inv.field,
                      f"`guanxi {inv.subcommand}` is not a command of the binary")
            return
        args = inv.argv[1:]
        i = 0
        while i < len(args):
            word = args[i]
            i += 1
            if not word.startswith("--"):
                if not command.positionals:
                    self.fail("flags", inv.file, inv.field,
                              f"`guanxi {inv.subcommand}` takes no argument {word!r}")
                continue
            name, eq, value = word[2:].partition("=")
            flag = command.flags.get(name)
            if flag is None:
                self.fail("flags", inv.file, inv.field,
                          f"--{name} is not a flag of `guanxi {inv.subcommand}` (its --help "
                          f"lists {', '.join('--' + f for f in sorted(command.flags))})")
                continue
            if flag.takes_value and not eq:
                if i >= len(args) or args[i].startswith("--"):
                    self.fail("flags", inv.file, inv.field, f"--{name} needs a value")
                    continue
                value = args[i]
                i += 1
            elif not flag.takes_value:
                if eq:
                    self.fail("flags", inv.file, inv.field, f"--{name} takes no value")
                value = None
            inv.flags[name] = value
        for name, flag in command.flags.items():
            if flag.required and name not in inv.flags:
                self.fail("flags", inv.file, inv.field,
                          f"--{name} is required by `guanxi {inv.subcommand}`")

    def check_config_text(self, text, file, field):
        accepted, message = self.binary.validate_config(text)
        if not accepted:
            self.fail("config", file, field, f"the binary refuses it: {message}")

    def config(self, text, name):
        try:
            return EngineConfig(name, [read_textproto(text, name), self.defaults])
        except ValueError as e:
            self.fail("config", name, "(text format)", str(e))
            return EngineConfig(name, [{}, self.defaults])

    def http_port(self, inv):
        _, port = host_port(inv.flags.get("http"))
        if "http" in inv.flags and port is None:
            self.fail("port", inv.file, f"{inv.field} --http", "not HOST:PORT")
        return port

    def check_probe_path(self, path, file, field):
        if not any(re.fullmatch(route, path) for route in self.routes):
            self.fail("probe", file, field, f"{path} is not an endpoint the HTTP server serves "
                                            f"(engine/query/http_server.cc)")

    def check_brokers_not_embedded(self, brokers, file, field):
        if not brokers or brokers == "embedded":
            self.fail("brokers", file, field,
                      f"kafka.brokers is {brokers!r}: the engine would run on an in-process "
                      f"development cluster that keeps nothing")

    # --- the image ------------------------------------------------------------------

    def check_dockerfile(self):
        file = "deploy/Dockerfile"
        stages = read_dockerfile((self.root / file).read_text(encoding="utf-8"))
        runtime = stages[-1]
        image = {"entrypoint": [], "cmd": [], "volumes": [], "ports": [], "copies": {},
                 "binary": None, "uid": None, "gid": None, "config_default": None}
        self.image = image

        # Every COPY source exists in the build context (the repository root).
        for stage in stages:
            for copy in stage.all("COPY") + stage.all("ADD"):
                options, sources, dest = copy_parts(copy.args)
                if "from" in options:
                    continue
                for source in sources:
                    if not (self.root / source).exists():
                        self.fail("image", file, f"COPY {source} (line {copy.line})",
                                  "no such file in the build context (the repository root)")

        # The build stage copies everything the build reads: each folder the top-level
        # CMakeLists.txt adds (but tests/, which GUANXI_BUILD_TESTS=OFF leaves out) and
        # each file of the repository a CMakeLists.txt names (scripts, CMake scripts).
        build = stages[0]
        copied = set()
        for copy in build.all("COPY"):
            options, sources, _ = copy_parts(copy.args)
            if "from" not in options:
                copied.update(os.path.normpath(source) for source in sources)

        def is_copied(path):
            parts = pathlib.PurePosixPath(path).parts
            return any(str(pathlib.PurePosixPath(*parts[:i])) in copied
                       for i in range(1, len(parts) + 1))

        top = (self.root / "CMakeLists.txt").read_text(encoding="utf-8")
        needed = {d for d in re.findall(r"^add_subdirectory\((\w+)\)", top, re.MULTILINE)
                  if d != "tests"}
        for lists in [self.root / "CMakeLists.txt",
                      *(self.root / d / "CMakeLists.txt" for d in sorted(needed))]:
            if lists.exists():
                text = lists.read_text(encoding="utf-8")
                needed.update(re.findall(r"\$\{PROJECT_SOURCE_DIR\}/([\w./-]+)", text))
        for path in sorted(needed):
            # ../shared/data: the tests' data, outside the repository.
            if path.startswith("..") or not (self.root / path).exists():
                continue
            if not is_copied(path):
                self.fail("image", file, "COPY (build stage)",
                          f"{path} is not copied in, and the build reads it (CMakeLists.txt)")

        # The binary: built by a preset into its binaryDir, copied from there onto PATH.
        build_dirs = {}
        presets = json.loads((self.root / "CMakePresets.json").read_text(encoding="utf-8"))
        by_name = {p["name"]: p for p in presets.get("configurePresets", [])}

        def binary_dir(name):
            """binaryDir of a configure preset, inherited or its own, ${presetName} unset."""
            preset = by_name.get(name, {})
            if "binaryDir" in preset:
                return preset["binaryDir"]
            parents = preset.get("inherits", [])
            for parent in [parents] if isinstance(parents, str) else parents:
                found = binary_dir(parent)
                if found:
                    return found
            return None

        for stage in stages[:-1]:
            workdir = "/"
            for ins in stage.instructions:
                if ins.keyword == "WORKDIR":
                    workdir = ins.args
                if ins.keyword != "RUN":
                    continue
                for words in shell_commands(ins.args):
                    if words[:2] == ["cmake", "--preset"] and len(words) > 2:
                        preset = words[2]
                        directory = binary_dir(preset) if preset in by_name else None
                        if directory is None:
                            self.fail("image", file, f"RUN cmake --preset {preset}",
                                      "no such configure preset in CMakePresets.json")
                        else:
                            built = (directory.replace("${presetName}", preset)
                                     .replace("${sourceDir}", workdir.rstrip("/")))
                            build_dirs[stage.name] = built
        target = pathlib.Path(self.binary.path)
        target_rel = f"{target.parent.name}/{target.name}"   # app/guanxi
        binary_dest = None
        for copy in runtime.all("COPY"):
            options, sources, dest = copy_parts(copy.args)
            for source in sources:
                if "from" in options and source.endswith("/guanxi"):
                    built = build_dirs.get(options["from"])
                    expected = f"{built}/{target_rel}" if built else None
                    if source != expected:
                        self.fail("image", file, f"COPY --from={options['from']} {source}",
                                  f"the build stage's preset puts the binary at {expected}")
                    binary_dest = dest if not dest.endswith("/") else dest + "guanxi"
                elif "from" not in options:
                    destination = dest + pathlib.Path(source).name if dest.endswith("/") else dest
                    image["copies"][destination] = source
        image["binary"] = binary_dest
        if binary_dest is None:
            self.fail("image", file, "COPY --from", "the runtime stage copies no guanxi binary")

        for ins in runtime.instructions:
            if ins.keyword in ("ENTRYPOINT", "CMD"):
                form = exec_form(ins.args)
                if form is None:
                    self.fail("image", file, ins.keyword,
                              "shell form: /bin/sh would be PID 1 and keep SIGTERM from "
                              "guanxi; use the exec form [\"...\"]")
                image[ins.keyword.lower()] = form or shlex.split(ins.args)
            elif ins.keyword == "VOLUME":
                image["volumes"] += exec_form(ins.args) or ins.args.split()
            elif ins.keyword == "EXPOSE":
                image["ports"] += [int(p.split("/")[0]) for p in ins.args.split()]
            elif ins.keyword == "USER":
                image["user"] = ins.args.strip()

        entry = image["entrypoint"]
        on_path = binary_dest in ("/usr/local/bin/guanxi", "/usr/bin/guanxi", "/bin/guanxi")
        if not entry or not (entry[0] == binary_dest or (entry[0] == "guanxi" and on_path)):
            self.fail("image", file, "ENTRYPOINT",
                      f"{entry} does not run the binary copied to {binary_dest}")

        # The user: non-root, its uid and gid as Kubernetes must name them.
        users, groups = {}, {}
        for ins in runtime.all("RUN"):
            for words in shell_commands(ins.args):
                if not words or words[0] not in ("useradd", "adduser", "groupadd", "addgroup"):
                    continue
                is_user = words[0] in ("useradd", "adduser")
                options = ("--uid", "-u") if is_user else ("--gid", "-g")
                number = next((words[j + 1] for j, w in enumerate(words[:-1]) if w in options),
                              None)
                (users if is_user else groups)[words[-1]] = number
        user = image.get("user", "root")
        name, _, group = user.partition(":")
        uid = name if name.isdigit() else users.get(name)
        gid = group if group.isdigit() else groups.get(group or name)
        if user == "" or name in ("root", "0"):
            self.fail("user", file, "USER", "the image runs as root")
        elif uid is None:
            self.fail("user", file, "USER", f"{user}: no fixed uid (useradd --uid) to name "
                                            f"in Kubernetes' runAsUser")
        image["uid"], image["gid"] = uid, gid

        # The packages of the runtime stage against ldd.
        installed = {}
        for ins in runtime.all("RUN"):
            for words in shell_commands(ins.args):
                if words[:1] in (["apt-get"], ["apt"]) and "install" in words:
                    for w in words[words.index("install") + 1:]:
                        if not w.startswith("-"):
                            installed[w] = ins.line
        needed, problems = self.binary.linked_packages()
        for problem in problems:
            self.fail("packages", file, "RUN apt-get install", problem)
        for package, libraries in sorted(needed.items()):
            if package in BASE_IMAGE_PACKAGES:
                continue
            if package not in installed:
                self.fail("packages", file, "RUN apt-get install (runtime stage)",
                          f"{package} is missing: it ships {', '.join(sorted(libraries))}, "
                          f"which guanxi links (ldd)")
        for package, line in sorted(installed.items()) if needed else []:
            if package not in needed and package not in EXTRA_RUNTIME_PACKAGES:
                self.fail("packages", file, f"RUN apt-get install (line {line})",
                          f"{package} ships no library guanxi links (ldd)")

        # The default command.
        argv = entry + image["cmd"]
        if self.runs_guanxi(argv):
            inv = Invocation(file, "ENTRYPOINT + CMD", argv[1:])
            self.parse_invocation(inv)
            self.check_image_invocation(inv)
            config = inv.flags.get("config")
            if config:
                if config in image["copies"]:
                    image["config_default"] = config
                    source = image["copies"][config]
                    # run() validates every configuration file under deploy/.
                    if not source.startswith("deploy/") and (self.root / source).is_file():
                        self.check_config_text((self.root / source).read_text(encoding="utf-8"),
                                               source, f"(COPY to {config})")
                else:
                    self.fail("config-path", file, "CMD --config",
                              f"{config} is not where a COPY puts a file "
                              f"({', '.join(sorted(image['copies'])) or 'none'})")

    def check_image_invocation(self, inv):
        """What every engine command line shares with the image: EXPOSE and VOLUME."""
        if inv.subcommand != "run" or self.image is None:
            return
        port = self.http_port(inv)
        if port is not None and port not in self.image["ports"]:
            self.fail("port", inv.file, f"{inv.field} --http",
                      f"port {port} is not EXPOSEd by deploy/Dockerfile "
                      f"({', '.join(map(str, self.image['ports'])) or 'none'})")
        data = inv.flags.get("data")
        if data and data not in self.image["volumes"]:
            self.fail("data", inv.file, f"{inv.field} --data",
                      f"{data} is not a VOLUME of deploy/Dockerfile "
                      f"({', '.join(self.image['volumes']) or 'none'})")

    def runs_guanxi(self, argv):
        return bool(argv) and argv[0] in ("guanxi", self.image["binary"])

    def image_argv(self, entrypoint, command):
        """The command line of a container: its own entrypoint/command over the image's."""
        entry = entrypoint if entrypoint is not None else self.image["entrypoint"]
        if command is None:
            command = self.image["cmd"] if entrypoint is None else []
        return list(entry) + list(command)

    # --- compose --------------------------------------------------------------------

    def check_compose(self):
        file = "deploy/compose.yaml"
        path = self.root / file
        documents = self.yaml_documents(path)
        compose = documents[0] if documents else {}
        services = compose.get("services") or {}
        declared_volumes = set((compose.get("volumes") or {}).keys())

        def is_guanxi(service):
            build = service.get("build")
            if isinstance(build, dict):
                dockerfile = (path.parent / (build.get("context") or ".") /
                              (build.get("dockerfile") or "Dockerfile")).resolve()
                return dockerfile == (self.root / "deploy/Dockerfile").resolve()
            return build is None and is_guanxi_image(service.get("image"))

        def mounts(name, service):
            result = {}
            for j, volume in enumerate(service.get("volumes") or []):
                if isinstance(volume, str):
                    parts = volume.split(":")
                    source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
                else:
                    source, target = volume.get("source"), volume.get("target")
                named = source is not None and not source.startswith((".", "/", "~"))
                if named and source not in declared_volumes:
                    self.fail("mounts", file, f"services.{name}.volumes[{j}]",
                              f"the named volume {source} is not declared under volumes:")
                if source is not None and not named and not (path.parent / source).exists():
                    self.fail("mounts", file, f"services.{name}.volumes[{j}]",
                              f"{source} does not exist (relative to deploy/)")
                result[target] = (source, named)
            return result

        # Kafka: where each compose service that is a Kafka broker listens.
        listeners = set()
        for name, service in services.items():
            environment = service.get("environment") or {}
            if isinstance(environment, list):
                environment = dict(e.split("=", 1) for e in environment)
            advertised = environment.get("KAFKA_ADVERTISED_LISTENERS")
            if advertised:
                for listener in advertised.split(","):
                    m = re.match(r"[A-Za-z_]+://(.+):(\d+)$", listener.strip())
                    if m:
                        listeners.add((m.group(1), int(m.group(2))))

        def check_brokers(value, field):
            for broker in (value or "").split(","):
                host, port = host_port(broker.strip())
                if (host, port) not in listeners:
                    known = ", ".join(f"{h}:{p}" for h, p in sorted(listeners))
                    self.fail("brokers", file, field, f"{broker} is not an advertised listener "
                                                      f"of the compose file's Kafka ({known})")

        engines, creators, prometheus_targets = {}, [], []
        topic_references, data_volumes = [], {}
        grafanas, prometheus_servers = [], {}
        for name, service in services.items():
            field = f"services.{name}"
            service_mounts = mounts(name, service)
            # Published on loopback only: nothing of this file has authentication on.
            for j, mapping in enumerate(service.get("ports") or []):
                if isinstance(mapping, dict):
                    host_ip = mapping.get("host_ip")
                else:
                    parts = str(mapping).rsplit(":", 2)
                    host_ip = parts[0] if len(parts) == 3 else None
                if host_ip not in ("127.0.0.1", "::1", "[::1]", "localhost"):
                    self.fail("loopback", file, f"{field}.ports[{j}]",
                              f"{mapping!r} publishes the port on every interface of the host: "
                              f"name 127.0.0.1 (\"127.0.0.1:HOST:CONTAINER\")")
            entrypoint = self.words(service.get("entrypoint"), file, f"{field}.entrypoint")
            command = self.words(service.get("command"), file, f"{field}.command")
            test_words = self.words((service.get("healthcheck") or {}).get("test"), file,
                                    f"{field}.healthcheck.test") or []
            if not is_guanxi(service):
                argv = (entrypoint or []) + (command or [])
                for j, word in enumerate(argv):
                    if word in TOPIC_FLAGS and j + 1 < len(argv):
                        topic_references.append((argv[j + 1], f"{field}.command {word}"))
                    if word == "--bootstrap-server" and j + 1 < len(argv):
                        check_brokers(argv[j + 1], f"{field}.command --bootstrap-server")
                if "prometheus" in (service.get("image") or ""):
                    server = {"port": 9090, "scrape_interval": None, "file": None}
                    for word in argv:
                        m = re.fullmatch(r"--web\.listen-address=.*:(\d+)", word)
                        if m:
                            server["port"] = int(m.group(1))
                    for target, (source, named) in service_mounts.items():
                        if target.endswith("prometheus.yml") and not named and source:
                            prometheus_targets.append((path.parent / source).resolve())
                            server["file"] = (path.parent / source).resolve()
                    for host in {name, service.get("hostname"), service.get("container_name")}:
                        if host:
                            prometheus_servers[host] = server
                if is_image(service.get("image"), "grafana/grafana"):
                    grafanas.append((name, service, service_mounts))
                continue
            argv = self.image_argv(entrypoint, command)
            if not self.runs_guanxi(argv):
                self.fail("flags", file, f"{field}.command", f"{argv} does not run guanxi")
                continue
            inv = Invocation(file, f"{field}.command", argv[1:])
            self.parse_invocation(inv)
            self.check_image_invocation(inv)

            # The configuration this service reads.
            config_path = inv.flags.get("config")
            config = None
            if config_path in service_mounts and not service_mounts[config_path][1]:
                source = (path.parent / service_mounts[config_path][0]).resolve()
                if source.is_file():
                    text = source.read_text(encoding="utf-8")
                    config = self.config(text, self.rel(source))
                    self.check_config_text(text, self.rel(source), f"(mounted by {field})")
            elif config_path and any(t.endswith(".textproto") and not named
                                     for t, (_, named) in service_mounts.items()):
                self.fail("config-path", file, f"{field}.command --config",
                          f"{config_path} is not where the service mounts its configuration "
                          f"({', '.join(t for t in service_mounts if t.endswith('.textproto'))})")
            elif config_path and config_path == self.image.get("config_default"):
                config = self.defaults_config
            elif config_path:
                self.fail("config-path", file, f"{field}.command --config",
                          f"{config_path} is neither mounted into the service nor the "
                          f"image's default configuration")
            if config is not None:
                brokers = inv.flags.get("brokers") or config.get("kafka", "brokers")
                self.check_brokers_not_embedded(brokers, file, f"{field}: --brokers or "
                                                f"kafka.brokers of {config.path}")
                if brokers and brokers != "embedded":
                    check_brokers(brokers, f"{field}.command --brokers" if "brokers" in inv.flags
                                  else f"{config.path}: kafka.brokers (read by {name})")
                configured = config.get("kafka", "brokers")
                if "brokers" in inv.flags and inv.flags["brokers"] != configured:
                    self.fail("brokers", file, f"{field}.command --brokers",
                              f"{inv.flags['brokers']} differs from kafka.brokers of "
                              f"{config.path} ({configured})")

            if inv.subcommand == "topics":
                creators.append((name, inv, config))
            if inv.subcommand != "run":
                continue
            engines[name] = (inv, config)

            port = self.http_port(inv)
            data = inv.flags.get("data")
            if data is not None:
                source, named = service_mounts.get(data, (None, False))
                if not named:
                    self.fail("data", file, f"{field}.volumes",
                              f"--data {data} is not a named volume mounted into the service")
                elif source in data_volumes:
                    # Two engines on one data directory would share (and fight over) stores.
                    self.fail("data", file, f"{field}.volumes",
                              f"shares the volume {source} with {data_volumes[source]}: each "
                              f"instance needs its own data directory")
                else:
                    data_volumes[source] = name
            for j, mapping in enumerate(service.get("ports") or []):
                container = str(mapping).rsplit(":", 1)[-1].split("/")[0]
                if port is not None and container.isdigit() and int(container) != port:
                    self.fail("port", file, f"{field}.ports[{j}]",
                              f"publishes container port {container}, but --http listens on {port}")
            # The healthcheck: `guanxi ...` itself, or an HTTP request (a URL for curl or
            # wget, or bash's /dev/tcp/HOST/PORT and a request line "GET /path").
            probe = " ".join(test_words)
            url = (re.search(r"https?://[^/:\s]+:(\d+)(/[^\s'\"]*)", probe) or
                   re.search(r"/dev/tcp/[^/\s]+/(\d+).*?GET (/\S*)", probe))
            if test_words[1:2] == ["guanxi"]:
                self.parse_invocation(Invocation(file, f"{field}.healthcheck.test", test_words[2:]))
            elif url is None:
                self.fail("probe", file, f"{field}.healthcheck",
                          "no HTTP probe of the engine found")
            else:
                if port is not None and int(url.group(1)) != port:
                    self.fail("port", file, f"{field}.healthcheck.test",
                              f"probes port {url.group(1)}, but --http listens on {port}")
                self.check_probe_path(url.group(2), file, f"{field}.healthcheck.test")

            advertise = inv.flags.get("advertise")
            if advertise is not None:
                host, advertised_port = host_port(advertise)
                if host not in (name, service.get("hostname"), service.get("container_name")):
                    self.fail("advertise", file, f"{field}.command --advertise",
                              f"{advertise}: {host} is not this service's name ({name})")
                if port is not None and advertised_port != port:
                    self.fail("port", file, f"{field}.command --advertise",
                              f"advertises port {advertised_port}, but --http listens on {port}")

        self.check_deployment_topics(file, "services.", engines, creators, topic_references)

        # Prometheus scrapes every engine, at its HTTP port, on a path the server serves.
        for prometheus_file in prometheus_targets:
            if prometheus_file.is_file():   # a missing one is a mounts failure above
                self.check_prometheus(prometheus_file, engines)
        for server in prometheus_servers.values():
            if server["file"] is not None and server["file"].is_file():
                documents = self.yaml_documents(server["file"])
                settings = (documents[0] if documents else {}).get("global") or {}
                server["scrape_interval"] = str(settings.get("scrape_interval", "1m"))
        for name, service, service_mounts in grafanas:
            self.check_grafana(file, name, service, service_mounts, prometheus_servers)

    def check_deployment_topics(self, file, prefix, engines, creators, references):
        """Every guanxi process of a deployment reads the same topics, every engine is in
        the same group, every topic named elsewhere is the configuration's, and there are
        no more engines than partitions. Returns the partitions (those of `guanxi topics`)."""
        default = self.binary.command("topics").flags.get("partitions")
        partitions = int(default.default) if default and default.default.isdigit() else None
        for _, inv, _ in creators:
            value = inv.flags.get("partitions")
            if value is not None:
                partitions = int(value) if value.isdigit() else None
        if partitions is not None and len(engines) > partitions:
            self.fail("sizing", file, "engine instances",
                      f"{len(engines)} instances for {partitions} partitions: at most one "
                      f"instance per partition does work")
        configs = [(prefix + n, c) for n, (_, c) in engines.items() if c is not None]
        configs += [(prefix + n, c) for n, _, c in creators if c is not None]
        if not configs:
            return partitions
        reference_name, reference = configs[0]
        for name, config in configs[1:]:
            if config.topics() != reference.topics():
                self.fail("topics", file, name,
                          f"reads the topics {config.topics()} ({config.path}), "
                          f"{reference_name} {reference.topics()} ({reference.path})")
        groups = {n: c.get("kafka", "group_id") for n, (_, c) in engines.items() if c is not None}
        if len(set(groups.values())) > 1:
            self.fail("group", file, "kafka.group_id",
                      f"the engine instances are in different consumer groups: {groups}")
        names = set(reference.topics().values())
        for topic, field in references:
            if topic not in names:
                self.fail("topics", file, field,
                          f"{topic} is not a topic of the configuration "
                          f"({', '.join(sorted(names))})")
        return partitions

    def check_prometheus(self, path, engines):
        file = self.rel(path)
        documents = self.yaml_documents(path)
        config = documents[0] if documents else {}
        scraped = set()
        for j, job in enumerate(config.get("scrape_configs") or []):
            metrics_path = job.get("metrics_path") or "/metrics"
            for k, static in enumerate(job.get("static_configs") or []):
                for target in static.get("targets") or []:
                    host, port = host_port(target)
                    if host not in engines:
                        continue
                    scraped.add(host)
                    field = f"scrape_configs[{j}].static_configs[{k}].targets {target}"
                    engine_port = self.http_port(engines[host][0])
                    if engine_port is not None and port != engine_port:
                        self.fail("port", file, field,
                                  f"scrapes port {port}, but {host} serves HTTP on {engine_port}")
                    self.check_probe_path(metrics_path, file,
                                          f"scrape_configs[{j}].metrics_path")
        for name in engines:
            if name not in scraped:
                self.fail("port", file, "scrape_configs",
                          f"the engine instance {name} is not scraped")

    # --- Grafana --------------------------------------------------------------------

    def dashboard(self, path):
        """The dashboard a JSON file holds, or None (not a dashboard, or unreadable)."""
        if path not in self.dashboards:
            try:
                value = json.loads(path.read_text(encoding="utf-8"),
                                   object_pairs_hook=unique_keys)
            except ValueError as e:
                self.fail("parse", self.rel(path), "(JSON)", str(e))
                value = None
            is_dashboard = isinstance(value, dict) and "panels" in value
            self.dashboards[path] = value if is_dashboard else None
        return self.dashboards[path]

    def dashboard_files(self):
        return [p for p in sorted((self.root / "deploy").rglob("*.json")) if self.dashboard(p)]

    def check_dashboards(self):
        """Every Grafana dashboard of deploy/ against the series the engine serves."""
        series, families = served_metrics(self.root)
        if not series:
            self.fail("dashboard", "tests/deploy_test.py", "served_metrics",
                      "no series found in engine/query/http_server.cc: this test's way of "
                      "reading them no longer works")
            return
        documents = self.yaml_documents(self.root / "deploy/prometheus.yml")
        jobs = [j.get("job_name") for j in
                ((documents[0] if documents else {}).get("scrape_configs") or [])]
        for path in self.dashboard_files():
            file = self.rel(path)
            for field, query, legend, variable in dashboard_queries(self.dashboard(path)):
                wanted = set()    # label names the query shows
                if variable:
                    m = re.fullmatch(
                        r"\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*", query)
                    if m:
                        query = m.group(1) or ""
                        wanted.add(m.group(2))
                    elif re.match(r"\s*(?:label_names|metrics)\(", query):
                        continue
                selectors, grouping, job_values = promql_names(query)
                wanted |= grouping | set(re.findall(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}", legend))
                allowed = set(TARGET_LABELS)
                for name, labels in selectors:
                    if name in PROMETHEUS_SERIES:
                        known = set(TARGET_LABELS)
                    elif name in series:
                        known = series[name] | TARGET_LABELS
                    else:
                        hint = ""
                        if families.get(name) == "histogram":
                            hint = (f": {name} is a histogram, served as {name}_bucket, "
                                    f"{name}_sum and {name}_count")
                        self.fail("dashboard", file, field,
                                  f"{name} is not a series the engine serves "
                                  f"(engine/query/http_server.cc; docs/api.md){hint}")
                        continue
                    allowed |= known
                    for label in sorted(labels - known):
                        self.fail("dashboard", file, field,
                                  f"{name}{{{label}=...}}: {name} has no label {label} (it has "
                                  f"{', '.join(sorted(known))}): the query matches nothing")
                for label in sorted(wanted - allowed):
                    self.fail("dashboard", file, field,
                              f"{label}: no series of the query has that label (they have "
                              f"{', '.join(sorted(allowed))})")
                for job in job_values:
                    if job not in jobs:
                        self.fail("dashboard", file, field,
                                  f"job=\"{job}\": deploy/prometheus.yml has no such job "
                                  f"({', '.join(map(str, jobs)) or 'none'})")

    def check_grafana(self, file, name, service, service_mounts, prometheus_servers):
        """A compose service running Grafana against its provisioning files: the data
        sources, the dashboard providers and the dashboards of deploy/."""
        field = f"services.{name}"
        compose_dir = (self.root / file).parent
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) for e in environment)

        def host_path(container_path):
            """What a path in the container is on the host, through the service's bind
            mounts (the longest that contains it); None if no bind mount does."""
            best = None
            for target, (source, named) in service_mounts.items():
                target = target.rstrip("/")
                if named or not source or not (container_path == target or
                                               container_path.startswith(target + "/")):
                    continue
                if best is None or len(target) > len(best[0]):
                    best = (target, source)
            if best is None:
                return None
            rest = container_path[len(best[0]):].lstrip("/")
            return (compose_dir / best[1] / rest).resolve()

        def yaml_files(directory):
            return sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml")))

        provisioning = environment.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
        mounted = ", ".join(t for t, (s, n) in sorted(service_mounts.items()) if s and not n)

        # Each item of every provisioning file of one kind (datasources, dashboards) that
        # the service mounts; a kind mounted from nowhere is a failure.
        def provisioned(kind, missing, key=None):
            directory = host_path(f"{provisioning}/{kind}")
            if directory is None or not directory.is_dir():
                self.fail("grafana", file, f"{field}.volumes",
                          f"nothing of deploy/ is mounted at {provisioning}/{kind} (bind "
                          f"mounts: {mounted or 'none'}): Grafana would {missing}")
                return
            for path in yaml_files(directory):
                for document in self.yaml_documents(path):
                    for j, item in enumerate(document.get(key or kind) or []):
                        yield path, j, item

        # The data sources: Prometheus of this compose file, at the port it listens on.
        uids = set()
        for path, j, source in provisioned("datasources", "have no data source"):
            source_field = f"datasources[{source.get('name', j)}]"
            if source.get("uid"):
                uids.add(str(source["uid"]))
            if source.get("type") != "prometheus":
                continue
            url = str(source.get("url") or "")
            m = re.fullmatch(r"(https?)://([^/:]+)(?::(\d+))?(/.*)?", url)
            host = m.group(2) if m else None
            port = (int(m.group(3) or (443 if m.group(1) == "https" else 80))
                    if m else None)
            server = prometheus_servers.get(host)
            if server is None:
                self.fail("grafana", self.rel(path), f"{source_field}.url",
                          f"{url!r}: {host} is not a Prometheus service of {file} "
                          f"({', '.join(sorted(prometheus_servers)) or 'none'})")
                continue
            if port != server["port"]:
                self.fail("grafana", self.rel(path), f"{source_field}.url",
                          f"{url}: Prometheus listens on {server['port']}, not {port}")
            interval = (source.get("jsonData") or {}).get("timeInterval")
            if interval is not None and server["scrape_interval"] is not None and \
                    str(interval) != server["scrape_interval"]:
                self.fail("grafana", self.rel(path),
                          f"{source_field}.jsonData.timeInterval",
                          f"{interval} is not the scrape interval of "
                          f"{self.rel(server['file'])} ({server['scrape_interval']}): "
                          f"$__rate_interval would span the wrong number of scrapes")

        # The dashboard providers: each reads where deploy/'s dashboards are mounted.
        loaded = set()
        for path, j, provider in provisioned("dashboards", "load no dashboard",
                                             key="providers"):
            if provider.get("type", "file") != "file":
                continue
            provider_field = f"providers[{provider.get('name', j)}].options.path"
            target = str((provider.get("options") or {}).get("path") or "")
            source = host_path(target) if target else None
            if source is None or not source.exists():
                self.fail("grafana", self.rel(path), provider_field,
                          f"{target!r}: nothing of deploy/ is mounted there in "
                          f"{field} (bind mounts: {mounted or 'none'})")
                continue
            found = [source] if source.is_file() else sorted(source.rglob("*.json"))
            loaded.update(p.resolve() for p in found)
        for path in self.dashboard_files():
            if path.resolve() not in loaded:
                self.fail("grafana", self.rel(path), "(file)",
                          f"no dashboard provider of {file} {field} loads it")

        # Every data source a loaded dashboard names is provisioned.
        builtin = {"grafana", "-- Mixed --", "-- Dashboard --"}
        for path in sorted(loaded):
            dashboard = self.dashboard(path) if path.suffix == ".json" else None
            if dashboard is None:
                continue
            for uid in sorted(set(datasource_uids(dashboard))):
                if uid not in uids and uid not in builtin and not uid.startswith("$"):
                    self.fail("grafana", self.rel(path), f"datasource.uid {uid}",
                              f"not a data source provisioned for {field} "
                              f"({', '.join(sorted(uids)) or 'none'}): its panels show nothing")

        home = environment.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        if home:
            source = host_path(str(home))
            if source is None or not source.is_file():
                self.fail("grafana", file,
                          f"{field}.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
                          f"{home} is not a file mounted into the service")
        if str(environment.get("GF_AUTH_ANONYMOUS_ENABLED", "false")).lower() == "true":
            role = str(environment.get("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer"))
            if role != "Viewer":
                self.fail("grafana", file, f"{field}.environment.GF_AUTH_ANONYMOUS_ORG_ROLE",
                          f"{role}: anyone who reaches the port could change dashboards and "
                          f"data sources; anonymous visitors should be Viewer")

    # --- Kubernetes -----------------------------------------------------------------

    def check_kubernetes(self):
        directory = self.root / "deploy/k8s"
        objects = []     # (file, object)
        kustomization = None
        paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
        for path in paths:
            file = self.rel(path)
            for document in self.yaml_documents(path):
                if document.get("kind") == "Kustomization":
                    kustomization = (file, document)
                else:
                    objects.append((file, document))
        if kustomization is not None:
            file, document = kustomization
            listed = document.get("resources") or []
            for resource in listed:
                if not (directory / resource).exists():
                    self.fail("kustomize", file, f"resources {resource}", "no such file")
            for path in paths:
                if path.name not in listed and path.name != pathlib.Path(file).name:
                    self.fail("kustomize", file, "resources",
                              f"{path.name} is not listed: `kubectl apply -k` leaves it out")

        config_maps = {o["metadata"]["name"]: (f, o) for f, o in objects
                       if o.get("kind") == "ConfigMap"}
        for name, (file, config_map) in config_maps.items():
            for key, text in (config_map.get("data") or {}).items():
                if key.endswith(".textproto"):
                    self.check_config_text(text, file, f"ConfigMap/{name}: data.{key}")

        services = [(f, o) for f, o in objects if o.get("kind") == "Service"]
        workloads = [(f, o) for f, o in objects
                     if o.get("kind") in ("StatefulSet", "Deployment", "Job", "DaemonSet")]
        engines, engine_workloads, creators, references = {}, {}, [], []
        pod_labels = []   # of every workload
        for file, workload in workloads:
            kind, name = workload["kind"], workload["metadata"]["name"]
            spec = workload.get("spec") or {}
            template = spec.get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            pod_labels.append(labels)
            match = (spec.get("selector") or {}).get("matchLabels")
            if match is not None and not selects(match, labels):
                self.fail("selector", file, f"{kind}/{name}: spec.selector.matchLabels",
                          f"{match} does not match the pod template's labels {labels}")
            pod = template.get("spec") or {}
            volumes = {v["name"]: v for v in pod.get("volumes") or []}
            claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []}
            for index, container in enumerate(pod.get("containers") or []):
                field = f"{kind}/{name}: containers[{container.get('name', index)}]"
                command = self.words(container.get("command"), file, f"{field}.command")
                args = self.words(container.get("args"), file, f"{field}.args")
                if not is_guanxi_image(container.get("image")):
                    argv = (command or []) + (args or [])
                    for j, word in enumerate(argv):
                        if word in TOPIC_FLAGS and j + 1 < len(argv):
                            references.append((argv[j + 1], f"{field} {word}"))
                    continue
                argv = self.image_argv(command, args)
                if not self.runs_guanxi(argv):
                    self.fail("flags", file, field, f"{argv} does not run guanxi")
                    continue
                inv = Invocation(file, f"{field}.args", argv[1:])
                self.parse_invocation(inv)
                self.check_image_invocation(inv)
                env = {e["name"]: e for e in container.get("env") or []}
                for word in argv:
                    for variable in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", word):
                        if variable not in env:
                            self.fail("advertise", file, f"{field}.args",
                                      f"$({variable}) is not set in the container's env: "
                                      f"Kubernetes leaves it unexpanded")
                mounts = {m["mountPath"]: m for m in container.get("volumeMounts") or []}
                config = self.kubernetes_config(inv, mounts, volumes, config_maps, file, field)
                if config is not None:
                    self.check_brokers_not_embedded(
                        inv.flags.get("brokers") or config.get("kafka", "brokers"), file,
                        f"{field}: --brokers or kafka.brokers of {config.path}")
                self.check_pod_user(pod, container, file, f"{kind}/{name}", field,
                                    needs_fs_group=bool(claims))
                if inv.subcommand == "topics":
                    creators.append((f"{kind}/{name}", inv, config))
                if inv.subcommand != "run":
                    continue
                engines[f"{kind}/{name}"] = (inv, config)
                engine_workloads[f"{kind}/{name}"] = (file, workload)
                self.check_kubernetes_engine(inv, workload, pod, container, mounts, volumes,
                                             claims, services, env, file, field)

        for file, obj in services + [(f, o) for f, o in objects
                                     if o.get("kind") == "PodDisruptionBudget"]:
            selector = (obj.get("spec") or {}).get("selector") or {}
            if obj["kind"] == "PodDisruptionBudget":
                selector = selector.get("matchLabels") or {}
            if not selector:
                self.fail("selector", file, f"{obj['kind']}/{obj['metadata']['name']}: selector",
                          "none: it would select no pods (a Service) or every pod of the "
                          "namespace (a disruption budget)")
            elif not any(selects(selector, labels) for labels in pod_labels):
                self.fail("selector", file, f"{obj['kind']}/{obj['metadata']['name']}: selector",
                          f"{selector} selects no pods of these manifests")

        partitions = self.check_deployment_topics("deploy/k8s", "", engines, creators, references)
        for name, (inv, config) in engines.items():
            file, workload = engine_workloads[name]
            replicas = (workload.get("spec") or {}).get("replicas")
            replicas = 1 if replicas is None else int(replicas)   # Kubernetes' default
            if partitions is not None and replicas > partitions:
                self.fail("sizing", file, f"{name}: spec.replicas",
                          f"{replicas} replicas for {partitions} partitions: at most one "
                          f"instance per partition does work")
            if config is not None:
                self.check_memory(workload, config, partitions, file, name)

    def kubernetes_config(self, inv, mounts, volumes, config_maps, file, field):
        config_path = inv.flags.get("config")
        if not config_path:
            return None
        directory, key = config_path.rsplit("/", 1)
        mount = mounts.get(config_path) or mounts.get(directory)
        config_mounts = [m["mountPath"] for m in mounts.values()
                         if "configMap" in (volumes.get(m["name"]) or {})]
        if mount is None and config_mounts:
            self.fail("config-path", file, f"{field}.args --config",
                      f"{config_path} is not in the ConfigMap mounted at "
                      f"{', '.join(config_mounts)}: the pod would read the image's default "
                      f"configuration")
            return None
        if mount is None:
            if config_path == self.image.get("config_default"):
                return self.defaults_config
            self.fail("config-path", file, f"{field}.args --config",
                      f"{config_path}: nothing is mounted at {directory} "
                      f"(volumeMounts: {', '.join(sorted(mounts)) or 'none'})")
            return None
        if mount["mountPath"] == config_path:
            key = mount.get("subPath")
        volume = volumes.get(mount["name"]) or {}
        config_map = (volume.get("configMap") or {}).get("name")
        if config_map is None:
            self.fail("config-path", file, f"{field}.volumeMounts {mount['mountPath']}",
                      "is not a ConfigMap volume")
            return None
        if config_map not in config_maps:
            self.fail("config-path", file, f"{field}: volumes.{mount['name']}",
                      f"the ConfigMap {config_map} is not in these manifests")
            return None
        cm_file, cm = config_maps[config_map]
        data = cm.get("data") or {}
        if key not in data:
            self.fail("config-path", file, f"{field}.args --config",
                      f"{config_path}: ConfigMap/{config_map} has no key {key} "
                      f"(it has {', '.join(sorted(data)) or 'none'})")
            return None
        return self.config(data[key], f"{cm_file} (ConfigMap/{config_map}: data.{key})")

    def check_pod_user(self, pod, container, file, owner, field, needs_fs_group):
        pod_context = pod.get("securityContext") or {}
        context = {**pod_context, **(container.get("securityContext") or {})}
        # The Dockerfile's ids are text; Kubernetes' are YAML integers.
        uid, gid = (int(i) if i and i.isdigit() else i
                    for i in (self.image.get("uid"), self.image.get("gid")))
        if context.get("runAsNonRoot") is not True:
            self.fail("user", file, f"{owner}: securityContext.runAsNonRoot",
                      "not true: the image's user is non-root and the pod should insist")
        if uid is not None and context.get("runAsUser") != uid:
            self.fail("user", file, f"{owner}: securityContext.runAsUser",
                      f"{context.get('runAsUser')!r}, but the image's user is {uid} "
                      f"(deploy/Dockerfile)")
        if gid is not None and "runAsGroup" in context and context["runAsGroup"] != gid:
            self.fail("user", file, f"{owner}: securityContext.runAsGroup",
                      f"{context['runAsGroup']!r}, but the image's group is {gid}")
        if needs_fs_group and gid is not None and pod_context.get("fsGroup") != gid:
            self.fail("user", file, f"{owner}: securityContext.fsGroup",
                      f"{pod_context.get('fsGroup')!r}: the volume is writable by the image's "
                      f"user only with fsGroup {gid}")

    def check_kubernetes_engine(self, inv, workload, pod, container, mounts, volumes, claims,
                                services, env, file, field):
        kind, name = workload["kind"], workload["metadata"]["name"]
        port = self.http_port(inv)
        ports = {p.get("name"): int(p["containerPort"]) for p in container.get("ports") or []}
        if port is not None and port not in ports.values():
            self.fail("port", file, f"{field}.ports",
                      f"no containerPort {port} (--http), only {sorted(ports.values())}")

        def resolve(value):
            """A port number, or the name of one of the container's ports."""
            return value if isinstance(value, int) else ports.get(value)

        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = (container.get(probe) or {}).get("httpGet")
            if get is None:
                if probe != "startupProbe":
                    self.fail("probe", file, f"{field}.{probe}", "no httpGet probe")
                continue
            if port is not None and resolve(get.get("port")) != port:
                self.fail("port", file, f"{field}.{probe}.httpGet.port",
                          f"{get.get('port')!r} is not the HTTP port {port} (--http)")
            self.check_probe_path(get.get("path") or "/", file, f"{field}.{probe}.httpGet.path")

        template = workload["spec"].get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        for service_file, service in services:
            spec = service.get("spec") or {}
            selector = spec.get("selector") or {}
            if not selector or not selects(selector, labels):
                continue
            for j, service_port in enumerate(spec.get("ports") or []):
                target = service_port.get("targetPort", service_port.get("port"))
                if port is not None and resolve(target) != port:
                    self.fail("port", service_file,
                              f"Service/{service['metadata']['name']}: ports[{j}].targetPort",
                              f"{target!r} does not reach the HTTP port {port} of {kind}/{name}")

        data = inv.flags.get("data")
        if data is not None:
            mount = mounts.get(data)
            if mount is None:
                self.fail("data", file, f"{field}.volumeMounts",
                          f"nothing is mounted at --data {data} "
                          f"(mounts: {', '.join(sorted(mounts)) or 'none'})")
            elif kind == "StatefulSet" and mount["name"] not in claims:
                self.fail("data", file, f"{field}.volumeMounts {data}",
                          f"{mount['name']} is not a volumeClaimTemplate: the instance's "
                          f"state would not survive the pod")

        advertise = inv.flags.get("advertise")
        if advertise is not None and kind == "StatefulSet":
            host, advertised_port = host_port(advertise)
            service_name = workload["spec"].get("serviceName")
            expected = f"$(POD_NAME).{service_name}.$(POD_NAMESPACE).svc.cluster.local"
            if host != expected:
                self.fail("advertise", file, f"{field}.args --advertise",
                          f"{advertise}: a pod of {kind}/{name} is reached at {expected}")
            if port is not None and advertised_port != port:
                self.fail("port", file, f"{field}.args --advertise",
                          f"advertises port {advertised_port}, but --http listens on {port}")
            for variable, path in (("POD_NAME", "metadata.name"),
                                   ("POD_NAMESPACE", "metadata.namespace")):
                source = ((env.get(variable) or {}).get("valueFrom") or {}).get("fieldRef") or {}
                if variable in host and source.get("fieldPath") != path:
                    self.fail("advertise", file, f"{field}.env {variable}",
                              f"must come from the downward API, fieldPath {path}")
            headless = [s for _, s in services if s["metadata"]["name"] == service_name]
            if not headless or (headless[0].get("spec") or {}).get("clusterIP") != "None":
                self.fail("advertise", file, f"{kind}/{name}: spec.serviceName",
                          f"{service_name} is not a headless Service (clusterIP: None) of "
                          f"these manifests: the pods' DNS names would not resolve")

    def check_memory(self, workload, config, partitions, file, name):
        """The memory limit against docs/storage.md's budget with the ConfigMap's figures,
        the partitions one instance may own (all, when the others are down)."""
        container = next(c for c in workload["spec"]["template"]["spec"]["containers"]
                         if is_guanxi_image(c.get("image")))
        limit = parse_quantity(((container.get("resources") or {}).get("limits") or {})
                               .get("memory"))
        field = f"{name}: containers[{container.get('name')}].resources.limits.memory"
        if limit is None:
            self.fail("memory", file, field, "no memory limit")
            return
        budget, parts = memory_budget(self.root, config, partitions or 1)
        if budget is None:
            self.fail("memory", file, field, parts)
            return
        if limit < budget:
            self.fail("memory", file, field,
                      f"{limit >> 20} MiB is below the budget of {budget >> 20} MiB "
                      f"({parts}; docs/deploy.md, \"Memory\")")

    # --- everything -----------------------------------------------------------------

    def run(self):
        defaults_path = self.root / "deploy/guanxi.conf.textproto"
        self.defaults = read_textproto(defaults_path.read_text(encoding="utf-8"),
                                       "deploy/guanxi.conf.textproto")
        self.defaults_config = EngineConfig("deploy/guanxi.conf.textproto", [{}, self.defaults])
        # A configuration the binary must refuse: if it is accepted, the config check
        # below proves nothing.
        accepted, _ = self.binary.validate_config("kafka { planted_by_deploy_test: 1 }\n")
        if accepted:
            self.fail("config", "tests/deploy_test.py", "validate_config",
                      "`guanxi replay --config` accepted an unknown field: this test's "
                      "way of validating a configuration no longer works")
        for path in sorted((self.root / "deploy").rglob("*.textproto")):
            self.check_config_text(path.read_text(encoding="utf-8"), self.rel(path), "(file)")
        for step in (self.check_dockerfile, self.check_compose, self.check_kubernetes,
                     self.check_dashboards):
            try:
                step()
            except (ValueError, KeyError, TypeError, AttributeError, OSError) as e:
                self.fail("parse", step.__name__, "(file)", f"cannot read it: {e!r}")
        return self.failures


def parse_quantity(value):
    """A Kubernetes memory quantity in bytes."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?|[kE]|)", str(value))
    if not m:
        return None
    factor = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[m.group(2)]
    return int(float(m.group(1)) * factor)


# The process itself (code, thread stacks, RocksDB's and librdkafka's fixed structures): an
# allowance, not a measurement; an idle `guanxi run` with 8 partitions is 32 MiB.
PROCESS_ALLOWANCE = 64 << 20
# A log record handed to a projector, parsed: "about 1 KiB" (docs/storage.md); an outbox
# entry waiting for the broker's acknowledgement: at most about as much (an estimate).
RECORD_BYTES = 1 << 10


def memory_budget(root, config, partitions):
    """(bytes, how) of docs/storage.md's budget; (None, why) if a figure is not found."""
    def constant(path, name):
        m = re.search(rf"\b{name}\s*=\s*(\d+)", (root / path).read_text(encoding="utf-8"))
        return int(m.group(1)) if m else None

    handed_over = constant("engine/projection/worker.h", "kMaxHandedOver")
    window = constant("engine/projection/outbox_publisher.cc", "kWindow")
    kafka_default = re.search(r'"queued\.max\.messages\.kbytes",\s*"(\d+)"',
                              (root / "engine/kafka/kafka.cc").read_text(encoding="utf-8"))
    if handed_over is None or window is None or kafka_default is None:
        return None, ("kMaxHandedOver (engine/projection/worker.h), kWindow "
                      "(engine/projection/outbox_publisher.cc) or queued.max.messages.kbytes "
                      "(engine/kafka/kafka.cc) not found: update tests/deploy_test.py")
    figures = {
        "state cache": int(config.get("workers", "state_cache_bytes") or 0),
        "block cache": int(config.get("storage", "block_cache_bytes") or 0),
        "memtables": int(config.get("storage", "write_buffer_bytes") or 0),
        "fetch queue": int(config.properties().get("queued.max.messages.kbytes",
                                                   kafka_default.group(1))) << 10,
        f"{partitions} partitions": partitions * (handed_over + window) * RECORD_BYTES,
        "process": PROCESS_ALLOWANCE,
    }
    how = " + ".join(f"{k} {v >> 20} MiB" for k, v in figures.items())
    return sum(figures.values()), how


# ---------------------------------------------------------------------------------------
# Mutations: one planted mistake per kind, in a temporary copy of deploy/, each of which
# the named check must catch. A check that cannot fail proves nothing.

MUTATIONS = [
    # (check that must catch it, file, pattern, replacement (re.sub's: \1 is a group, \\ a
    # backslash), what[, {extra file: text}])
    ("flags", "deploy/Dockerfile", r'CMD \["run", ', 'CMD ["run", "--no-such-flag", ',
     "an unknown flag in the image's CMD"),
    ("flags", "deploy/k8s/topics-job.yaml", r'(\n(\s+)- "3"\n)',
     r"\1\2- --until-caught-up\n",
     "a flag of another subcommand in the Job"),
    ("config", "deploy/compose/guanxi.conf.textproto", r'brokers: "kafka:9092"',
     'brokers: "kafka:9092"\n  no_such_field: 1', "an unknown field in the compose configuration"),
    ("config", "deploy/k8s/configmap.yaml", r"state_cache_bytes: 268435456",
     "state_cache_bytes: -1", "a bad value in the ConfigMap's configuration"),
    ("topics", "deploy/compose.yaml", r"^(  guanxi-a:\n)",
     '  events-retention:\n'
     '    image: apache/kafka:4.4.0\n'
     '    command: ["/opt/kafka/bin/kafka-configs.sh", "--bootstrap-server", "kafka:9092",'
     ' "--alter", "--entity-type", "topics", "--entity-name", "guanxi.event",'
     ' "--add-config", "retention.ms=-1"]\n\n\\1',
     "a compose service naming a misspelt topic"),
    ("group", "deploy/compose.yaml",
     r'(guanxi-b-data:/var/lib/guanxi\n\s+- )\./compose/guanxi\.conf\.textproto',
     r"\1./compose/other.conf.textproto", "an instance in another consumer group",
     {"deploy/compose/other.conf.textproto":
      'kafka { brokers: "kafka:9092" group_id: "another-group" }\n'}),
    ("topics", "deploy/compose.yaml",
     r'(guanxi-b-data:/var/lib/guanxi\n\s+- )\./compose/guanxi\.conf\.textproto',
     r"\1./compose/other.conf.textproto", "an instance reading other topic names",
     {"deploy/compose/other.conf.textproto":
      'kafka { brokers: "kafka:9092" events_topic: "events" }\n'}),
    ("brokers", "deploy/compose/guanxi.conf.textproto", r'brokers: "kafka:9092"',
     'brokers: "kafka:29092"', "brokers the compose Kafka does not listen on"),
    ("brokers", "deploy/k8s/configmap.yaml",
     r'brokers: "kafka-bootstrap\.kafka\.svc\.cluster\.local:9092"', 'brokers: "embedded"',
     "the development cluster in Kubernetes"),
    ("port", "deploy/k8s/statefulset.yaml", r"containerPort: 8080", "containerPort: 8081",
     "a container port that is not --http's"),
    ("port", "deploy/prometheus.yml", r'"guanxi-b:8080"', '"guanxi-b:9090"',
     "a Prometheus target on the wrong port"),
    ("port", "deploy/Dockerfile", r"EXPOSE 8080", "EXPOSE 8081", "EXPOSE of another port"),
    ("port", "deploy/compose.yaml", r"/dev/tcp/127\.0\.0\.1/8080", "/dev/tcp/127.0.0.1/8090",
     "a compose healthcheck on the wrong port"),
    ("advertise", "deploy/compose.yaml", r'"--advertise", "guanxi-b:8080"',
     '"--advertise", "guanxi-a:8080"', "an instance advertising another instance's address"),
    ("advertise", "deploy/k8s/statefulset.yaml", r"\$\(POD_NAME\)\.guanxi-headless",
     "$(POD_NAME).guanxi", "an advertised name that is not the headless Service's"),
    ("data", "deploy/Dockerfile", r'VOLUME \["/var/lib/guanxi"\]',
     'VOLUME ["/var/lib/guanxi-data"]',
     "a VOLUME that is not --data"),
    ("data", "deploy/k8s/statefulset.yaml", r"- name: data\n(\s+)mountPath: /var/lib/guanxi",
     r"- name: data\n\1mountPath: /data", "the volume claim mounted elsewhere than --data"),
    ("data", "deploy/compose.yaml", r"guanxi-b-data:/var/lib/guanxi",
     "guanxi-a-data:/var/lib/guanxi",
     "two instances on one volume"),
    ("config-path", "deploy/k8s/statefulset.yaml", r"mountPath: /etc/guanxi\n",
     "mountPath: /etc/guanxi-config\n", "the ConfigMap mounted elsewhere than --config"),
    ("config-path", "deploy/Dockerfile", r"(COPY deploy/guanxi\.conf\.textproto) /etc/guanxi/",
     r"\1 /etc/", "the default configuration copied elsewhere"),
    ("config-path", "deploy/compose.yaml",
     r"(guanxi-a-data:/var/lib/guanxi\n\s+- \./compose/guanxi\.conf\.textproto:)/etc/guanxi/",
     r"\1/etc/guanxi/compose/", "compose mounting the configuration where --config does not read"),
    ("probe", "deploy/compose.yaml", r"GET /readyz", "GET /ready",
     "a compose healthcheck on a path the server does not serve"),
    ("probe", "deploy/k8s/statefulset.yaml", r"path: /readyz", "path: /ready",
     "a readiness probe on a path the server does not serve"),
    ("probe", "deploy/prometheus.yml", r"metrics_path: /metrics", "metrics_path: /prometheus",
     "Prometheus scraping a path the server does not serve"),
    ("packages", "deploy/Dockerfile", r"\n\s+liblz4-1 \\", "",
     "a runtime library package left out"),
    ("packages", "deploy/Dockerfile", r"(\n\s+)libsnappy1v5 \\", r"\1libsnappy1v5 \\\1curl \\",
     "a package the binary does not need"),
    ("image", "deploy/Dockerfile", r"/src/build/release/app/guanxi", "/src/build/ci/app/guanxi",
     "the binary copied from where the preset does not put it"),
    ("image", "deploy/Dockerfile", r'ENTRYPOINT \["guanxi"\]', "ENTRYPOINT guanxi",
     "a shell-form ENTRYPOINT"),
    ("image", "deploy/Dockerfile", r"^COPY web web\n", "",
     "a folder the build reads left out of the build stage"),
    ("image", "deploy/Dockerfile", r"^COPY scripts/web scripts/web\n", "",
     "a script the build runs left out of the build stage"),
    ("user", "deploy/k8s/statefulset.yaml", r"runAsUser: 10001", "runAsUser: 1000",
     "a pod user that is not the image's"),
    ("selector", "deploy/k8s/pdb.yaml", r"(matchLabels:\n\s+app\.kubernetes\.io/name: )guanxi",
     r"\1guanxi-engine", "a disruption budget selecting no pods"),
    ("selector", "deploy/k8s/services.yaml",
     r"(clusterIP: None\n(?:.*\n)*?\s+app\.kubernetes\.io/name: )guanxi",
     r"\1guanxi-pods", "a headless Service selecting no pods"),
    ("memory", "deploy/k8s/configmap.yaml", r"state_cache_bytes: 268435456",
     "state_cache_bytes: 1073741824", "a state cache the memory limit does not cover"),
    ("sizing", "deploy/k8s/statefulset.yaml", r"replicas: 2", "replicas: 9",
     "more replicas than partitions"),
    ("mounts", "deploy/compose.yaml", r"\./prometheus\.yml:", "./prometheus.yaml:",
     "a mounted file that does not exist"),
    ("kustomize", "deploy/k8s/kustomization.yaml", r"  - pdb\.yaml\n", "",
     "a manifest left out of the kustomization"),
    ("loopback", "deploy/compose.yaml", r'"127\.0\.0\.1:3000:3000"', '"3000:3000"',
     "a port published on every interface"),
    ("dashboard", "deploy/grafana/dashboards/guanxi.json", r"guanxi_events_ingested_total\{",
     "guanxi_events_ingest_total{", "a dashboard query on a series the engine does not serve"),
    ("dashboard", "deploy/grafana/dashboards/guanxi.json",
     r"guanxi_append_batch_latency_seconds_bucket", "guanxi_append_batch_latency_seconds",
     "a quantile of a histogram's family name, not of its _bucket series"),
    ("dashboard", "deploy/grafana/dashboards/guanxi.json",
     r"sum by \(instance\) \(guanxi_outbox_unacknowledged",
     "sum by (instance, partition) (guanxi_outbox_unacknowledged",
     "a dashboard grouping by a label the series does not have"),
    ("dashboard", "deploy/grafana/dashboards/guanxi.json",
     r"guanxi_outbox_unacknowledged\{", r'guanxi_outbox_unacknowledged{partition=\\"0\\", ',
     "a dashboard matching a label the series does not have"),
    ("dashboard", "deploy/grafana/dashboards/guanxi.json", r'job=\\"guanxi\\"',
     r'job=\\"engine\\"', "a dashboard query on a job Prometheus does not have"),
    ("grafana", "deploy/grafana/provisioning/datasources/prometheus.yaml",
     r"url: http://prometheus:9090", "url: http://prometheus:9091",
     "Grafana's data source on a port Prometheus does not listen on"),
    ("grafana", "deploy/grafana/provisioning/datasources/prometheus.yaml",
     r"timeInterval: 15s", "timeInterval: 30s",
     "Grafana's data source with another scrape interval than Prometheus's"),
    ("grafana", "deploy/grafana/provisioning/dashboards/guanxi.yaml",
     r"path: /etc/grafana/dashboards", "path: /var/lib/grafana/dashboards",
     "a dashboard provider reading where no dashboard is mounted"),
    ("grafana", "deploy/grafana/dashboards/guanxi.json", r'"uid": "prometheus"',
     '"uid": "prom"', "a panel on a data source that is not provisioned"),
    ("grafana", "deploy/compose.yaml", r'GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer"',
     'GF_AUTH_ANONYMOUS_ORG_ROLE: "Admin"', "anonymous visitors as administrators"),
    ("grafana", "deploy/compose.yaml", r"/etc/grafana/dashboards/guanxi\.json",
     "/etc/grafana/dashboards/home.json", "a home dashboard that is not mounted"),
    ("mounts", "deploy/compose.yaml", r"\./grafana/dashboards:", "./grafana/dashboard:",
     "Grafana's dashboards mounted from a folder that does not exist"),
]


def run_mutations(root, binary, baseline):
    """Plants each mutation in a copy; returns the problems (mutations not caught)."""
    problems, known = [], set(baseline)
    with tempfile.TemporaryDirectory(prefix="deploy_test.") as tmp:
        copy = pathlib.Path(tmp) / "src"
        copy.mkdir()
        for entry in root.iterdir():
            if entry.name not in ("deploy", "build", ".git"):
                (copy / entry.name).symlink_to(entry)
        for check, file, pattern, replacement, what, *extra in MUTATIONS:
            shutil.rmtree(copy / "deploy", ignore_errors=True)
            shutil.copytree(root / "deploy", copy / "deploy")
            for name, content in (extra[0] if extra else {}).items():
                (copy / name).write_text(content, encoding="utf-8")
            target = copy / file
            text = target.read_text(encoding="utf-8")
            planted, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
            if count == 0:
                problems.append(f"mutation {what!r}: the pattern {pattern!r} is no longer in "
                                f"{file}; update MUTATIONS in tests/deploy_test.py")
                continue
            target.write_text(planted, encoding="utf-8")
            failures = Checker(copy, binary).run()
            new = [f for f in failures if f not in known]
            caught = [f for f in new if f.check == check]
            if caught:
                print(f"  planted {what} in {file}: caught: {caught[0]}")
            else:
                problems.append(f"mutation {what!r} in {file} was not caught by the {check} "
                                f"check (new failures: {[str(f) for f in new] or 'none'})")
    return problems


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    options = [a for a in sys.argv[1:] if a.startswith("--")]
    if len(args) != 2 or set(options) - {"--no-mutations"}:
        print(__doc__, file=sys.stderr)
        return 2
    root, binary_path = pathlib.Path(args[0]).resolve(), pathlib.Path(args[1])
    if not (root / "deploy").is_dir():
        print(f"{root} is not the source directory (no deploy/)", file=sys.stderr)
        return 2
    if not os.access(binary_path, os.X_OK):
        print(f"{binary_path} is not an executable", file=sys.stderr)
        return 2
    binary = Binary(binary_path)
    failures = Checker(root, binary).run()
    for failure in failures:
        print(failure)
    problems = []
    if "--no-mutations" not in options:
        print("planting one mistake of each kind in a copy of deploy/:")
        problems = run_mutations(root, binary, failures)
        for problem in problems:
            print(problem)
    if failures or problems:
        print(f"{len(failures)} disagreement(s) between deploy/ and the binary"
              + (f"; {len(problems)} planted mistake(s) not caught" if problems else ""))
        return 1
    print("deploy/ agrees with the binary" +
          ("" if "--no-mutations" in options else "; every planted mistake was caught"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
