package commands

import (
	"context"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

// Spec is one command of the chat language: one row of the command table.
//
// The table is the single source of truth. The parser's vocabulary, the help (overview and
// "help <command>"), the role actions that `roles.*.allow` accepts, what read_only refuses,
// the default `confirm` list, the built-in roles, the default `bot menu sync` menu, the
// metrics label and the command table in README.md are all derived from it.
//
// Adding a command:
//
//  1. Add a Verb constant (parse.go) and a row below, in the place it should have in help.
//     Name the action roles allow in Action (reuse one, or a new one: it becomes valid in
//     `roles.*.allow` and admin gets it), set Role to the least built-in role that may run
//     it, Changes if it changes state, Confirm if it is confirmed by default, Args for what
//     follows its words, and Run.
//  2. Add the catalogue strings in internal/i18n/catalog.go, zh and en: "help_<id>" for each
//     Help line.
//  3. Run `go test ./internal/commands -run TestTableDerived -update`: it rewrites
//     internal/config/actions_gen.go and the table in README.md from the rows. Without
//     -update that test fails while either is stale, and TestTableComplete fails when a
//     row cannot be parsed, has no help or no catalogue text.
//
// What follows from a row without more code: Example and Menu must parse to the row; the
// help overview is one line per row (its Example and the text of its first Help line; keep
// that short: the whole overview must fit one WeCom message, TestHelpFitsOneMessage), and
// lists the row for the users whose role allows Action (and, with Changes, not in
// read_only), marked "需确认" when the configured `confirm` lists it; a row with Changes,
// Noun "guest" and Args ArgTarget becomes a button on the status card of the guests this
// user may run it on now (alreadyThere in power.go says which states make it pointless);
// a typo close to one of its Words is answered with the row's command as a button.
//
// A new argument shape is a new ArgKind and its case in (*cmdParser).args; a new noun family
// ("snapshot ...") is an entry in nouns, its words then work after the noun only.
type Spec struct {
	Verb  Verb     // what Parse returns; also the metrics label of the command
	Words []string // the words that name it, English and Chinese; the first of each language is canonical
	// Noun is the family of nouns that may stand before Words: "" (none: Words stand alone),
	// "guest" (vm, ct...: optional, Words stand alone too), "node" (required).
	Noun  string
	Topic string // help topic that documents it ("help <topic>"); "" = string(Verb)
	// Bare marks the row that a noun of its family means on its own ("vm" = "vm list").
	Bare bool
	// Bulk lets the target be a selector of many guests (tag:lab, pool:media, node:pve2,
	// 100-199, all): Command.Selector, run by bulk.go.
	Bulk bool

	Action   string // action name roles allow; "" = every listed user (help, confirm, cancel)
	Role     string // least built-in role allowed (config.RoleViewer, ...); "" with Action ""
	Changes  bool   // changes something in PVE: read_only refuses it, protected guests reserve it to admins, `confirm` may list it
	Confirm  bool   // in the default `confirm` list
	QEMUOnly bool   // containers cannot do it: "ct <word>" is a parse error

	Args ArgKind // what follows the words
	// MinArgs and MaxArgs bound the words after the target of ArgTargetArgs.
	MinArgs, MaxArgs int
	ListWord         bool   // a trailing "list"/"列表" is accepted ("storage list")
	Menu             string // the key of its button in the default app menu; "" = not in it

	// Sub maps a word that may follow Words to the row it names instead ("backup status").
	Sub map[string]Verb

	Help    []HelpLine // lines of help, in order
	Example Text       // one example, in each language

	Run handler // nil only for rows that are reached by a button, not by text (Words empty)
}

// HelpLine is one usage line of help: the usage in each language, and the catalogue key
// "help_<ID>" that says what it does.
type HelpLine struct {
	ID string
	Text
}

// Text is a command as typed, in each language.
type Text struct{ EN, ZH string }

// ArgKind is what follows a command's words.
type ArgKind int

// The argument shapes.
const (
	ArgNone   ArgKind = iota // nothing
	ArgTarget                // exactly one target (guest, or node for the node family): Command.Target
	ArgFilter                // anything, optional: Command.Filter
	ArgCount                 // an optional positive number: Command.N
	ArgCode                  // a confirmation code: Command.Code
	ArgTopic                 // an optional command word: Command.Topic
	// ArgTargetArgs is a target, then MinArgs to MaxArgs more words: Command.Target and
	// Command.Args (a snapshot name, a target node, a storage, a timeframe…).
	ArgTargetArgs
)

// handler runs one parsed command for the request.
type handler func(d *Dispatcher, ctx context.Context, r *req, c Command) []chat.Reply

// one adapts a handler that answers with one reply.
func one(f func(d *Dispatcher, ctx context.Context, r *req, c Command) chat.Reply) handler {
	return func(d *Dispatcher, ctx context.Context, r *req, c Command) []chat.Reply {
		return []chat.Reply{f(d, ctx, r, c)}
	}
}

// table is the command table (see Spec). Built in init: its handlers refer back to it.
var table []Spec

func init() {
	table = []Spec{
		{Verb: VerbStatus, Words: []string{"overview", "summary", "概览"}, Action: "status", Role: config.RoleViewer, Menu: "status",
			Help:    []HelpLine{{"status", Text{"status", "概览"}}},
			Example: Text{"status", "概览"},
			Run:     one(func(d *Dispatcher, ctx context.Context, r *req, _ Command) chat.Reply { return d.status(ctx, r) })},
		{Verb: VerbList, Words: []string{"list", "ls", "列表"}, Noun: "guest", Bare: true, Action: "list", Role: config.RoleViewer, Args: ArgFilter, Menu: "vm list",
			Help: []HelpLine{
				{"list", Text{"vm list [filter]", "列表 [筛选]"}},
				{"ct_list", Text{"ct list [filter]", "容器 列表 [筛选]"}},
			},
			Example: Text{"vm list running", "列表 运行中"},
			Run:     one((*Dispatcher).list)},
		{Verb: VerbGuestStatus, Words: []string{"status", "状态"}, Noun: "guest", Topic: "status", Action: "list", Role: config.RoleViewer, Args: ArgTarget,
			Help:    []HelpLine{{"guest_status", Text{"vm status <target>", "状态 <目标>"}}},
			Example: Text{"vm status 101", "状态 101"},
			Run:     one((*Dispatcher).guestStatus)},
		{Verb: VerbIP, Words: []string{"ip", "地址"}, Noun: "guest", Action: "list", Role: config.RoleViewer, Args: ArgTarget,
			Help:    []HelpLine{{"ip", Text{"vm ip <target>", "地址 <目标>"}}},
			Example: Text{"vm ip 104", "地址 104"},
			Run:     one((*Dispatcher).addresses)},
		{Verb: VerbNodeList, Words: []string{"list", "ls", "列表"}, Noun: "node", Topic: "node", Bare: true, Action: "node", Role: config.RoleViewer,
			Help:    []HelpLine{{"node_list", Text{"node list", "节点"}}},
			Example: Text{"node list", "节点"},
			Run:     one((*Dispatcher).nodes)},
		{Verb: VerbNodeStatus, Words: []string{"status", "状态"}, Noun: "node", Topic: "node", Action: "node", Role: config.RoleViewer, Args: ArgTarget,
			Help:    []HelpLine{{"node_status", Text{"node status <node>", "节点 状态 <节点>"}}},
			Example: Text{"node status pve1", "节点 状态 pve1"},
			Run:     one((*Dispatcher).nodes)},
		nodePowerRow(VerbNodeReboot, []string{"reboot", "restart", "重启", "重启节点"}, true, Text{"node reboot <node>", "重启节点 <节点>"}),
		nodePowerRow(VerbNodeShutdown, []string{"shutdown", "poweroff", "关机", "关闭节点"}, true, Text{"node shutdown <node>", "关闭节点 <节点>"}),
		nodePowerRow(VerbNodeWake, []string{"wake", "wakeup", "唤醒", "唤醒节点"}, true, Text{"node wake <node>", "唤醒节点 <节点>"}),
		{Verb: VerbStorage, Words: []string{"list", "ls", "列表"}, Noun: "storage", Bare: true, Action: "storage", Role: config.RoleViewer,
			Help:    []HelpLine{{"storage", Text{"storage list", "存储"}}},
			Example: Text{"storage", "存储"},
			Run:     one(func(d *Dispatcher, ctx context.Context, r *req, _ Command) chat.Reply { return d.storage(ctx, r) })},
		{Verb: VerbGraph, Words: []string{"graph", "chart", "图表"}, Noun: "guest", Action: "graph", Role: config.RoleViewer, Args: ArgTargetArgs, MaxArgs: 1,
			Help:    []HelpLine{{"graph", Text{"vm graph <target> [hour/day/week/month/year]", "图表 <目标> [小时/天/周/月/年]"}}},
			Example: Text{"vm graph 101 week", "图表 101 周"},
			Run:     one((*Dispatcher).guestGraph)},
		{Verb: VerbNodeGraph, Words: []string{"graph", "chart", "图表"}, Noun: "node", Topic: "graph", Action: "graph", Role: config.RoleViewer, Args: ArgTargetArgs, MaxArgs: 1,
			Help:    []HelpLine{{"node_graph", Text{"node graph <node> [hour/day/week/month/year]", "节点图表 <节点> [小时/天/周/月/年]"}}},
			Example: Text{"node graph pve1", "节点图表 pve1 周"},
			Run:     one((*Dispatcher).nodeGraph)},
		{Verb: VerbStorageGraph, Words: []string{"graph", "chart", "图表"}, Noun: "storage", Topic: "graph", Action: "graph", Role: config.RoleViewer, Args: ArgTargetArgs, MaxArgs: 1,
			Help:    []HelpLine{{"storage_graph", Text{"storage graph <storage> [node]", "存储图表 <存储> [节点]"}}},
			Example: Text{"storage graph local-zfs", "存储图表 local-zfs"},
			Run:     one((*Dispatcher).storageGraph)},
		{Verb: VerbTasks, Words: []string{"task", "tasks", "任务"}, Topic: "task", Action: "task", Role: config.RoleViewer, ListWord: true,
			Help:    []HelpLine{{"task", Text{"task list", "任务"}}},
			Example: Text{"tasks", "任务"},
			Run:     one(func(d *Dispatcher, ctx context.Context, r *req, _ Command) chat.Reply { return d.tasks(ctx, r) })},

		power(VerbStart, []string{"start", "启动", "开机"}, config.RoleOperator, false, Text{"vm start <target>", "启动 <目标>"}),
		power(VerbShutdown, []string{"shutdown", "关机"}, config.RoleOperator, true, Text{"vm shutdown <target>", "关机 <目标>"}),
		power(VerbReboot, []string{"reboot", "restart", "重启"}, config.RoleOperator, true, Text{"vm reboot <target>", "重启 <目标>"}),
		power(VerbSuspend, []string{"suspend", "pause", "暂停", "挂起"}, config.RoleOperator, true, Text{"vm suspend <target>", "暂停 <目标>"}),
		power(VerbResume, []string{"resume", "恢复"}, config.RoleOperator, false, Text{"vm resume <target>", "恢复 <目标>"}),
		power(VerbStop, []string{"stop", "强制关机", "停止"}, config.RoleAdmin, true, Text{"vm stop <target>", "强制关机 <目标>"}),
		func() Spec {
			s := power(VerbReset, []string{"reset", "重置"}, config.RoleAdmin, true, Text{"vm reset <target>", "重置 <目标>"})
			s.QEMUOnly = true
			return s
		}(),

		{Verb: VerbMigrate, Words: []string{"migrate", "迁移"}, Noun: "guest", Action: "migrate", Role: config.RoleAdmin, Changes: true, Confirm: true,
			Args: ArgTargetArgs, MinArgs: 1, MaxArgs: 1,
			Help:    []HelpLine{{"migrate", Text{"vm migrate <target> <node>", "迁移 <目标> <节点>"}}},
			Example: Text{"vm migrate docker-host pve1", "迁移 docker-host pve1"},
			Run:     (*Dispatcher).migrate},

		{Verb: VerbSnapshots, Words: []string{"snapshots", "快照列表"}, Noun: "guest", Topic: "snapshot", Action: "snapshots", Role: config.RoleViewer, Args: ArgTarget,
			Help:    []HelpLine{{"snapshots", Text{"vm snapshots <target>", "快照列表 <目标>"}}},
			Example: Text{"vm snapshots 102", "快照列表 102"},
			Run:     one((*Dispatcher).snapshots)},
		{Verb: VerbSnapshot, Words: []string{"snapshot", "快照"}, Noun: "guest", Action: "snapshot", Role: config.RoleOperator, Changes: true,
			Args: ArgTargetArgs, MaxArgs: 12,
			Help:    []HelpLine{{"snapshot", Text{"vm snapshot <target> [name] [--ram] [description]", "快照 <目标> [名称] [含内存] [说明]"}}},
			Example: Text{"vm snapshot 102 before_upgrade", "快照 102 升级前"},
			Run:     (*Dispatcher).takeSnapshot},
		{Verb: VerbRollback, Words: []string{"rollback", "回滚"}, Noun: "guest", Topic: "snapshot", Action: "rollback", Role: config.RoleAdmin, Changes: true, Confirm: true,
			Args: ArgTargetArgs, MinArgs: 1, MaxArgs: 1,
			Help:    []HelpLine{{"rollback", Text{"vm rollback <target> <snapshot>", "回滚 <目标> <快照>"}}},
			Example: Text{"vm rollback 102 before_upgrade", "回滚 102 before_upgrade"},
			Run:     (*Dispatcher).rollback},
		{Verb: VerbDelSnapshot, Words: []string{"delsnapshot", "删除快照"}, Noun: "guest", Topic: "snapshot", Action: "delete_snapshot", Role: config.RoleAdmin, Changes: true, Confirm: true,
			Args: ArgTargetArgs, MinArgs: 1, MaxArgs: 1,
			Help:    []HelpLine{{"delsnapshot", Text{"vm delsnapshot <target> <snapshot>", "删除快照 <目标> <快照>"}}},
			Example: Text{"vm delsnapshot 102 before_upgrade", "删除快照 102 before_upgrade"},
			Run:     (*Dispatcher).deleteSnapshot},

		backupStatusRow, backupListRow, backupRow,

		{Verb: VerbAudit, Words: []string{"audit", "审计"}, Action: "audit", Role: config.RoleAdmin, Args: ArgCount,
			Help:    []HelpLine{{"audit", Text{"audit [n]", "审计 [n]"}}},
			Example: Text{"audit 5", "审计 5"},
			Run:     one((*Dispatcher).auditList)},
		{Verb: VerbConfirm, Words: []string{"confirm", "确认"}, Args: ArgCode,
			Help:    []HelpLine{{"confirm", Text{"confirm <code>", "确认 <代码>"}}},
			Example: Text{"confirm AB12CD", "确认 AB12CD"},
			Run: func(d *Dispatcher, ctx context.Context, r *req, c Command) []chat.Reply {
				return d.confirmCode(ctx, r, c.Code, strings.Join(c.Args, " "), "")
			}},
		{Verb: VerbCancel, Words: []string{"cancel", "取消"}, Args: ArgCode,
			Help:    []HelpLine{{"cancel", Text{"cancel <code>", "取消 <代码>"}}},
			Example: Text{"cancel AB12CD", "取消 AB12CD"},
			Run: one(func(d *Dispatcher, ctx context.Context, r *req, c Command) chat.Reply {
				return d.cancel(ctx, r, c.Code, "")
			})},
		{Verb: VerbWhoami, Words: []string{"whoami", "我的权限", "我是谁"},
			Help:    []HelpLine{{"whoami", Text{"whoami", "我的权限"}}},
			Example: Text{"whoami", "我的权限"},
			Run:     one(func(d *Dispatcher, _ context.Context, r *req, _ Command) chat.Reply { return r.whoami() })},
		{Verb: VerbHelp, Words: []string{"help", "?", "帮助"}, Args: ArgTopic, Menu: "help",
			Help:    []HelpLine{{"help", Text{"help [command]", "帮助 [命令]"}}},
			Example: Text{"help start", "帮助 启动"},
			Run: func(d *Dispatcher, _ context.Context, r *req, c Command) []chat.Reply {
				return []chat.Reply{r.help(c.Topic)}
			}},
		// mute is reached only by the "mute" button of an alert card (mute.go), never typed.
		{Verb: VerbMute, Action: "mute", Role: config.RoleOperator},
	}
	buildVocab()
}

// power is the row of a power action on a guest; the action is named after the verb.
func power(v Verb, words []string, role string, confirm bool, usage Text) Spec {
	return Spec{Verb: v, Words: words, Noun: "guest", Action: string(v), Role: role, Changes: true, Confirm: confirm, Args: ArgTarget, Bulk: true,
		Help:    powerHelp(v, usage),
		Example: Text{strings.Replace(usage.EN, "<target>", "101", 1), strings.Replace(usage.ZH, "<目标>", "101", 1)},
		Run:     (*Dispatcher).power}
}

// noun is a word that names a family of commands ("vm", "节点"); Kind narrows guests.
type noun struct {
	word, family, kind string
}

// nouns are the words that may stand before a command word of their family (Spec.Noun).
var nouns = []noun{
	{"vm", "guest", ""}, {"虚拟机", "guest", ""}, {"guest", "guest", ""},
	{"qemu", "guest", KindQEMU}, {"ct", "guest", KindLXC}, {"lxc", "guest", KindLXC}, {"容器", "guest", KindLXC},
	{"node", "node", ""}, {"nodes", "node", ""}, {"节点", "node", ""},
	{"storage", "storage", ""}, {"存储", "storage", ""},
}

// standalone reports whether the words of family stand without their noun too.
func standalone(family string) bool { return family == "" || family == "guest" }

// specOf returns the row of v.
func specOf(v Verb) (*Spec, bool) {
	for i := range table {
		if table[i].Verb == v {
			return &table[i], true
		}
	}
	return nil, false
}

// topic is the help topic of s.
func (s *Spec) topic() string {
	if s.Topic != "" {
		return s.Topic
	}
	return string(s.Verb)
}
