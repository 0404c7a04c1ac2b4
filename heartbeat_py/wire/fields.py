"""Field names and message types exactly as heartbeat 3.0.6 puts them on the wire
(names from ha_msg.h and heartbeat.h, values observed in the reference capture).
Every other module refers to these names, never to string literals."""

# --- control fields every sequenced message carries (added in this order) ---
F_ORIG = "src"              # sender node name, lower-case
F_ORIGUUID = "srcuuid"      # sender uuid, binary (16 bytes)
F_SEQ = "seq"               # per-process sequence number, lower-case hex, from 1
F_HBGENERATION = "hg"       # generation, hex; never goes down across restarts
F_TIME = "ts"               # sender's time(2), hex
F_LOAD = "ld"               # the sender's /proc/loadavg line
F_TTL = "ttl"               # hopfudge + node count, decimal
F_AUTH = "auth"             # "IDX HEXDIGEST" over the classic rendering of the rest
F_TO = "dest"               # destination node name (optional)
F_TOUUID = "destuuid"       # destination uuid, binary (added when dest is known)

# --- message-specific fields ---
F_TYPE = "t"
F_SUBTYPE = "subt"
F_STATUS = "st"
F_DT = "dt"                 # sender's current deadtime in ms, hex
F_PROTOCOL = "protocol"     # PROTOCOL_VERSION; present => sender does flow control
F_NODE = "node"
F_NODELIST = "nodelist"
F_DELNODELIST = "delnodelist"
F_COMMENT = "info"
F_FIRSTSEQ = "firstseq"
F_LASTSEQ = "lastseq"
F_ACKSEQ = "ackseq"
F_RESOURCES = "rsc_hold"
F_RTYPE = "rtype"
F_ISSTABLE = "isstable"
F_APIRESULT = "result"
F_IFNAME = "ifname"
F_IPADDR = "ipaddr"         # ip-request / ip-request-resp (rc.d scripts)
F_WEOWN = "weown"
F_OK = "ok"
F_CLIENTNAME = "cn"
F_CLIENTSTATUS = "cs"
F_FROMID = "from_id"
F_TOID = "to_id"

# --- message types ---
T_STATUS = "status"
T_NS_STATUS = "NS_st"
T_STARTING = "starting"
T_RESOURCES = "resource"
T_ASKRESOURCES = "ask_resources"
T_ASKRELEASE = "ip-request"
T_ACKRELEASE = "ip-request-resp"
T_TAKEOVER = "hb_takeover"
T_SHUTDONE = "shutdone"
T_STONITH = "stonith"
T_REQNODES = "reqnodes"
T_REPNODES = "repnodes"
T_QCSTATUS = "query-cstatus"
T_RCSTATUS = "respond-cstatus"
T_IFSTATUS = "ifstat"
T_ADDNODE = "addnode"
T_DELNODE = "delnode"
T_SETWEIGHT = "setweight"
T_SETSITE = "setsite"

# Types with this prefix carry no `seq` (and no `ld`) and are never retransmitted.
NOSEQ_PREFIX = "NS_"
T_REXMIT = "NS_rexmit"
T_NAKREXMIT = "NS_nak_rexmit"
T_ACKMSG = "NS_ackmsg"

# --- values ---
PROTOCOL_VERSION = 1

STATUS_INIT = "init"
STATUS_UP = "up"
STATUS_ACTIVE = "active"
STATUS_DEAD = "dead"

RSC_NONE = "none"
RSC_LOCAL = "local"
RSC_FOREIGN = "foreign"
RSC_ALL = "all"
RESOURCE_SETS = (RSC_NONE, RSC_LOCAL, RSC_FOREIGN, RSC_ALL)

STANDBY_ME = "me"           # ask_resources info=: the standby three-phase protocol
STANDBY_OTHER = "other"
STANDBY_DONE = "done"

STONITH_OK = "OK"
STONITH_BADHOST = "badhost"
STONITH_BAD = "bad"
STONITH_NOTCONFGD = "n_stnth"
STONITH_UNNEEDED = "unneeded"


def is_noseq(msg_type):
    """True for types that travel outside the sequence/retransmit protocol."""
    return msg_type.startswith(NOSEQ_PREFIX)
