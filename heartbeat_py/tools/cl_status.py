"""`cl_status`: what the running heartbeat knows, with heartbeat 3.0.6's outputs and
exit codes (observed against the real daemon; table in docs/heartbeat-daemon.md).

Each sub-command has its own docopt usage, because options mean different things in
different sub-commands (`listnodes -p` is a flag, `hbparameter -p NAME` takes a value);
`cl_status` alone, `-h` or `--help` prints the legacy help screen (3.0.6 takes
`--help` for an unknown sub-command and exits 11). As in 3.0.6 the daemon is
asked first and the arguments checked after, so a stopped heartbeat always gives 1.
Lists come out in the order 3.0.6's client library gives them: last node first.
"""
from __future__ import annotations

import logging
import sys

from docopt import DocoptExit, docopt

from heartbeat_py.daemon import hblog
from heartbeat_py.daemon.control import ControlTimeout, ControlUnavailable, request
from heartbeat_py.daemon.paths import Paths

PROGRAM = "cl_status"
OK, NORMAL_FAIL, PARAMETER_ERROR, TIMEOUT, UNKNOWN_ERROR = 0, 1, 11, 12, 13
TIMEOUT_SECONDS = 5             # 3.0.6 arms alarm(5) so a hung daemon cannot hang scripts

HELP = """\
Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
\tShow the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
\tShow the status of a heartbeat link
hbstatus
\tIndicate if heartbeat is running on the local system.
\tOptions:
\t\t-v\tverbose: also add "listnodes -v" output
listnodes [<option>]
\tList the nodes in the cluster.
\tOptions:
\t\t-p\tlist only 'ping' type nodes
\t\t-n\tlist only 'normal' type nodes
\t\t-v\tverbose: also list type and status,
\t\t\tthen add "listhblinks -v" output
listhblinks <node-name>
\tList the network interfaces used as hearbeat links.
\tOptions:
\t\t-v\tverbose: list link status as well
nodestatus <node-name>
\tList the node status.
nodeweight <node-name>
\tList the node weight.
nodesite <node-name>
\tList the node site.
nodetype <node-name>
\tList the nodes of a given type.
rscstatus
\tShow the status of cluster resources.
hbparameter -p <parameter-name>
\tRetrieve the value of a cluster parameter.
\tAs for the valid parameter names, please refer to the man page.
"""

# sub-command -> (docopt usage, getopt letters, what 3.0.6 says when an argument is missing)
_NOT_ENOUGH = "Not enough parameters."
_NO_ENOUGH = "No enough parameter."
COMMANDS = {
    "hbstatus": ("Usage: cl_status hbstatus [-m] [-v] [<extra>...]", "mv", None),
    "listnodes": ("Usage: cl_status listnodes [-m] [-p] [-n] [-v] [<extra>...]", "mpnv", None),
    "nodestatus": ("Usage: cl_status nodestatus [-m] <node-name> [<extra>...]", "m", _NOT_ENOUGH),
    "nodeweight": ("Usage: cl_status nodeweight [-m] <node-name> [<extra>...]", "m", _NOT_ENOUGH),
    "nodesite": ("Usage: cl_status nodesite [-m] <node-name> [<extra>...]", "m", _NOT_ENOUGH),
    "nodetype": ("Usage: cl_status nodetype [-m] <node-name> [<extra>...]", "m", _NO_ENOUGH),
    "listhblinks": ("Usage: cl_status listhblinks [-m] [-v] <node-name> [<extra>...]", "mv",
                    _NO_ENOUGH),
    "hblinkstatus": ("Usage: cl_status hblinkstatus [-m] <node-name> <link-name> [<extra>...]",
                     "m", _NO_ENOUGH),
    "clientstatus": ("Usage: cl_status clientstatus [-m] <node-name> <client-id> [<timeout>]"
                     " [<extra>...]", "m", _NO_ENOUGH),
    "rscstatus": ("Usage: cl_status rscstatus [-m] [<extra>...]", "m", None),
    "hbparameter": ("Usage: cl_status hbparameter [-m] -p <parameter-name> [<extra>...]\n\n"
                    "Options:\n  -p <parameter-name>  the parameter", "mp:", None),
}
NODE_WEIGHT = 100           # 3.0.6's default; weights are a Pacemaker-era feature


class Failed(Exception):
    def __init__(self, code: int):
        self.code = code


class Tool:
    def __init__(self, out=None, err=None, paths: Paths | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.paths = paths or Paths.from_env()
        self.log = hblog.make_logger(hblog.LogTargets(), PROGRAM)
        handler = logging.StreamHandler(self.err)
        handler.setFormatter(hblog.LineFormatter(PROGRAM))
        self.log.addHandler(handler)

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def ask(self, cmd: str, **args) -> dict:
        try:
            return request(self.paths.control_socket, cmd, timeout=TIMEOUT_SECONDS, **args)
        except ControlTimeout:
            raise Failed(TIMEOUT) from None

    def run(self, argv: list[str]) -> int:
        if not argv or argv in (["-h"], ["--help"]):
            self.out.write(HELP)
            return OK
        sub = argv[0]
        if sub not in COMMANDS:
            self.log.error("%s: invalid sub-command.", sub)
            return PARAMETER_ERROR
        try:
            try:
                self.ask("ping")
            except ControlUnavailable:
                if sub == "hbstatus":
                    self._getopt(sub, argv[1:])     # its complaints, as 3.0.6 reads options
                    self.say("Heartbeat is stopped on this machine.")
                    return NORMAL_FAIL
                self.log.error("Cannot signon with heartbeat")
                self.log.error("REASON: hb_api_signon: Can't initiate connection to heartbeat")
                return NORMAL_FAIL
            args = self.parse(sub, argv)
            return getattr(self, "do_" + sub)(args)
        except Failed as e:
            return e.code
        except ControlUnavailable:
            self.log.error("REASON: heartbeat stopped answering")
            return UNKNOWN_ERROR

    def parse(self, sub: str, argv: list[str]) -> dict:
        """3.0.6 scans each sub-command's options with getopt(3), then reads operands;
        its quirks are kept (see _getopt), and docopt reads the canonical form."""
        usage, _letters, missing = COMMANDS[sub]
        try:
            return docopt(usage, self._getopt(sub, argv[1:]), default_help=False)
        except DocoptExit:
            if sub == "hbparameter":
                self.log.error("parameter name required")
            elif missing:
                print(missing, file=self.err)
            raise Failed(PARAMETER_ERROR) from None

    def _getopt(self, sub: str, args: list[str]) -> list[str]:
        """getopt(3) as 3.0.6 uses it: clustered flags, `-pNAME` or `-p NAME` (the last
        wins), options among operands, a flag given twice counts once. A bad option
        makes getopt complain; hbstatus then carries on, the others exit 11."""
        letters = COMMANDS[sub][1]
        flags, value, operands = [], None, []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                operands += args[i + 1:]
                break
            if not arg.startswith("-") or arg == "-":
                operands.append(arg)
                i += 1
                continue
            for j, letter in enumerate(arg[1:], 1):
                if letter not in letters.replace(":", ""):
                    self._bad_option(sub, f"invalid option -- '{letter}'")
                    continue
                if letter + ":" in letters:
                    if j < len(arg) - 1:
                        value = arg[j + 1:]
                    elif i + 1 < len(args):
                        i += 1
                        value = args[i]
                    else:
                        self._bad_option(sub, f"option requires an argument -- '{letter}'")
                    break
                if letter not in flags:
                    flags.append(letter)
            i += 1
        canonical = [sub] + [f"-{letter}" for letter in flags]
        if value is not None:
            canonical += ["-p", value]
        return canonical + operands

    def _bad_option(self, sub: str, complaint: str) -> None:
        print(f"{sub}: {complaint}", file=self.err)
        if sub == "hbstatus":
            return
        # two wordings in 3.0.6: its own loops say "code", the shared helper does not
        code = "code " if sub in ("listnodes", "listhblinks", "hbparameter") else ""
        self.log.error("Error: getopt returnedcharacter %s?.", code)
        raise Failed(PARAMETER_ERROR)

    # -- sub-commands ----------------------------------------------------------------------

    def do_hbstatus(self, args) -> int:
        if not args["-v"]:
            self.say("Heartbeat is running on this machine.")
            return OK
        version = self.ask("hbparameter", name="hbversion").get("value")
        if args["-m"]:
            self.say(f"Heartbeat version {version}")
            self.say('Resources controlled by "haresources"')
        else:
            self.say(f"version:\t{version}")
            self.say('managed by:\t"haresources"')
        self._listnodes(normal=False, ping=False, verbose=True, human=args["-m"])
        return OK

    def do_listnodes(self, args) -> int:
        return self._listnodes(args["-n"], args["-p"], args["-v"], args["-m"])

    def _listnodes(self, normal: bool, ping: bool, verbose: bool, human: bool) -> int:
        if normal and ping:
            normal = ping = False
        nodes = list(reversed(self.ask("listnodes")["nodes"]))
        if human:
            self.say("The nodes are as follow:")
        for node in nodes:
            if (normal and node["type"] != "normal") or (ping and node["type"] != "ping"):
                continue
            if verbose:
                self.say(f"\n{node['name']}\t{node['status']}\t(nodetype: {node['type']})")
                self._listhblinks(node["name"], verbose=True, human=human)
            else:
                self.say(node["name"])
        return OK

    def _node_answer(self, cmd: str, node: str, complaint: str, **extra) -> dict:
        answer = self.ask(cmd, node=node, **extra)
        if not answer.get("ok"):
            print(complaint, file=self.err)
            raise Failed(PARAMETER_ERROR)
        return answer

    def do_nodestatus(self, args) -> int:
        name = args["<node-name>"]
        status = self._node_answer("nodestatus", name,
                                   "Error. May be due to incorrect node name")["status"]
        self.say(f"The cluster node {name} is {status}" if args["-m"] else status)
        return OK if status in ("active", "up", "ping") else NORMAL_FAIL

    def do_nodeweight(self, args) -> int:
        name = args["<node-name>"]
        self._node_answer("nodetype", name, "Error. Maybe due to incorrect node name.")
        self.say(f"The weight of the cluster node {name} is {NODE_WEIGHT}" if args["-m"]
                 else str(NODE_WEIGHT))
        return OK

    def do_nodesite(self, args) -> int:
        name = args["<node-name>"]
        self._node_answer("nodetype", name, "Error. May be due to incorrect node name")
        self.say(f"The site of the cluster node {name} is " if args["-m"] else "")
        return OK

    def do_nodetype(self, args) -> int:
        name = args["<node-name>"]
        kind = self._node_answer("nodetype", name,
                                 "Error. May be due to incorrect node name")["type"]
        self.say(f"The node {name}'s type: {kind}" if args["-m"] else kind)
        return OK

    def do_listhblinks(self, args) -> int:
        return self._listhblinks(args["<node-name>"], args["-v"], args["-m"])

    def _listhblinks(self, node: str, verbose: bool, human: bool) -> int:
        answer = self.ask("listhblinks", node=node)
        if not answer.get("ok"):
            self.log.error("Cannot start heartbeat link interface walk.")
            self.log.error("REASON: EINVAL")
            raise Failed(UNKNOWN_ERROR)
        if human:
            self.say("\tthis node has the following heartbeat links:")
        for link in reversed(answer["links"]):
            self.say(f"\t{link['name']}\t{link['status']}" if verbose else f"\t{link['name']}")
        return OK

    def do_hblinkstatus(self, args) -> int:
        node, link = args["<node-name>"], args["<link-name>"]
        answer = self.ask("hblinkstatus", node=node, link=link)
        if not answer.get("ok"):
            self.log.error("Cannot get heartbeat link status")
            self.log.error("REASON: ")
            return UNKNOWN_ERROR
        status = answer["status"]
        self.say(f"The node {node}'s heartbeat link {link} is {status}" if args["-m"] else status)
        return OK if status == "up" else NORMAL_FAIL

    def do_clientstatus(self, args) -> int:
        # v1 heartbeat here has no API clients: every client is offline, as 3.0.6 answers
        self.say("offline")
        return NORMAL_FAIL

    def do_rscstatus(self, args) -> int:
        status = self.ask("rscstatus")["status"]
        self.say(f"This node is holding {status} resources." if args["-m"] else status)
        return OK

    def do_hbparameter(self, args) -> int:
        name = args["-p"]
        value = self.ask("hbparameter", name=name).get("value")
        if value is None:
            self.log.error("Cannot get parameter %s's value", name)
            self.log.error("REASON: ")
            return NORMAL_FAIL
        self.say(f"Heartbeat parameter {name}'s value: {value}" if args["-m"] else value)
        return OK


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    return Tool().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
