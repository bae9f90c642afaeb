package pve

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// PVE's JSON does not always follow its schema (docs/pve.md §2.1): booleans come as 0/1,
// vmid as a string in old LXC lists, cpus as a string in old status replies. These
// types accept a number, a numeric string, a boolean or null, and never fail: a value
// of an unexpected shape decodes as zero, so one odd field cannot hide a whole list.

// flexNum is a number that may arrive as a JSON number, string, boolean or null.
type flexNum float64

func (f *flexNum) UnmarshalJSON(b []byte) error {
	*f = flexNum(parseNum(b))
	return nil
}

func parseNum(b []byte) float64 {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case 't':
		if string(b) == "true" {
			return 1
		}
		return 0
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return 0
		}
		b = []byte(strings.TrimSpace(s))
	case '{', '[', 'n', 'f':
		return 0
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (f flexNum) int() int {
	v := float64(f)
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0
	}
	return int(v)
}

func (f flexNum) uint() uint64 {
	v := float64(f)
	if v <= 0 || v >= math.MaxUint64 {
		return 0
	}
	return uint64(v)
}

func (f flexNum) bool() bool { return f != 0 }

func (f flexNum) seconds() time.Duration {
	v := float64(f)
	if v <= 0 || v > float64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	return time.Duration(v) * time.Second
}

func (f flexNum) unix() time.Time {
	v := float64(f)
	if v <= 0 || v > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(v), 0)
}

// flexStr is a string that may arrive as a number or boolean (an all-digit name or tag).
type flexStr string

func (f *flexStr) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*f = flexStr(s)
		}
	case '{', '[', 'n':
	default:
		*f = flexStr(b)
	}
	return nil
}

// rawResource is one /cluster/resources entry of any type.
type rawResource struct {
	ID         flexStr `json:"id"`
	Type       flexStr `json:"type"`
	VMID       flexNum `json:"vmid"`
	Name       flexStr `json:"name"`
	Node       flexStr `json:"node"`
	Status     flexStr `json:"status"`
	Template   flexNum `json:"template"`
	Tags       flexStr `json:"tags"`
	Pool       flexStr `json:"pool"`
	HAState    flexStr `json:"hastate"`
	Lock       flexStr `json:"lock"`
	CPU        flexNum `json:"cpu"`
	MaxCPU     flexNum `json:"maxcpu"`
	Mem        flexNum `json:"mem"`
	MaxMem     flexNum `json:"maxmem"`
	Disk       flexNum `json:"disk"`
	MaxDisk    flexNum `json:"maxdisk"`
	Uptime     flexNum `json:"uptime"`
	Storage    flexStr `json:"storage"`
	PluginType flexStr `json:"plugintype"`
	Content    flexStr `json:"content"`
	Shared     flexNum `json:"shared"`
}

// errNoData is returned when a reply has no usable "data".
var errNoData = errors.New("reply has no data")

// decodeList decodes {"data":[…]} element by element: an element that is not an
// object is skipped (counted in skipped) instead of failing the whole list.
func decodeList[T any](body []byte) (items []T, skipped int, err error) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, 0, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(env.Data, &raws); err != nil {
		return nil, 0, errNoData
	}
	items = make([]T, 0, len(raws))
	for _, r := range raws {
		var v T
		if len(r) == 0 || r[0] != '{' || json.Unmarshal(r, &v) != nil {
			skipped++
			continue
		}
		items = append(items, v)
	}
	return items, skipped, nil
}

// decodeObject decodes {"data":{…}} into v.
func decodeObject(body []byte, v any) error {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return err
	}
	if len(env.Data) == 0 || env.Data[0] != '{' {
		return errNoData
	}
	return json.Unmarshal(env.Data, v)
}

// decodeResources decodes a /cluster/resources reply into guests, nodes and storage
// (whichever it holds), for cluster. It never panics on any input.
func decodeResources(cluster string, body []byte) (guests []Guest, nodes []Node, storage []Storage, err error) {
	raws, _, err := decodeList[rawResource](body)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range raws {
		kind, idRest, _ := strings.Cut(string(r.ID), "/")
		typ := string(r.Type)
		if typ == "" {
			typ = kind
		}
		switch typ {
		case "qemu", "lxc":
			guests = append(guests, r.guest(cluster, typ, idRest))
		case "node":
			nodes = append(nodes, r.node(cluster))
		case "storage":
			storage = append(storage, r.storage(cluster))
		}
	}
	return guests, nodes, storage, nil
}

func (r rawResource) guest(cluster, typ, idRest string) Guest {
	vmid := r.VMID.int()
	if vmid == 0 {
		vmid, _ = strconv.Atoi(idRest)
	}
	status := string(r.Status)
	if status == "" {
		status = "unknown"
	}
	hastate := string(r.HAState)
	if hastate == "ignored" {
		hastate = "" // an ignored HA resource is not managed: actions go direct (HA Config.pm)
	}
	return Guest{
		Cluster: cluster, VMID: vmid, Name: string(r.Name), Node: string(r.Node), Type: typ,
		Status: status, Template: r.Template.bool(), Tags: slices.Clip(selector.SplitTags(string(r.Tags))),
		Pool: string(r.Pool), HAState: hastate, Lock: string(r.Lock),
		CPU: float64(r.CPU), MaxCPU: r.MaxCPU.int(), Mem: r.Mem.uint(), MaxMem: r.MaxMem.uint(),
		Disk: r.Disk.uint(), MaxDisk: r.MaxDisk.uint(), Uptime: r.Uptime.seconds(),
	}
}

func (r rawResource) node(cluster string) Node {
	n := Node{
		Cluster: cluster, Name: string(r.Node), Status: string(r.Status),
		CPU: float64(r.CPU), MaxCPU: r.MaxCPU.int(), Mem: r.Mem.uint(), MaxMem: r.MaxMem.uint(),
		Disk: r.Disk.uint(), MaxDisk: r.MaxDisk.uint(), Uptime: r.Uptime.seconds(),
	}
	if n.Name == "" {
		_, n.Name, _ = strings.Cut(string(r.ID), "/")
	}
	if n.Status == "" {
		n.Status = "unknown"
	}
	n.HasStats = n.MaxMem > 0 || n.MaxCPU > 0
	return n
}

func (r rawResource) storage(cluster string) Storage {
	s := Storage{
		Cluster: cluster, Node: string(r.Node), Name: string(r.Storage), Type: string(r.PluginType),
		Status: string(r.Status), Content: string(r.Content), Shared: r.Shared.bool(),
		Used: r.Disk.uint(), Total: r.MaxDisk.uint(),
	}
	if s.Name == "" {
		// id is storage/<node>/<storage>
		parts := strings.SplitN(string(r.ID), "/", 3)
		if len(parts) == 3 {
			s.Name = parts[2]
		}
	}
	s.HasStats = s.Total > 0
	return s
}

// rawStatus is …/status/current for QEMU and LXC.
type rawStatus struct {
	rawResource
	Cpus      flexNum `json:"cpus"`
	QMPStatus flexStr `json:"qmpstatus"`
	HA        struct {
		Managed flexNum `json:"managed"`
		State   flexStr `json:"state"`
	} `json:"ha"`
}

// rawTask is a task status or a task list row.
type rawTask struct {
	UPID       flexStr `json:"upid"`
	Node       flexStr `json:"node"`
	Type       flexStr `json:"type"`
	ID         flexStr `json:"id"`
	User       flexStr `json:"user"`
	TokenID    flexStr `json:"tokenid"`
	Status     flexStr `json:"status"`
	ExitStatus flexStr `json:"exitstatus"`
	StartTime  flexNum `json:"starttime"`
	EndTime    flexNum `json:"endtime"`
}

func (r rawTask) task() Task {
	t := Task{
		UPID: string(r.UPID), Node: string(r.Node), Type: string(r.Type), ID: string(r.ID),
		User: string(r.User), Status: string(r.Status), Start: r.StartTime.unix(), End: r.EndTime.unix(),
	}
	if r.TokenID != "" && !strings.Contains(t.User, "!") {
		t.User += "!" + string(r.TokenID)
	}
	// The archive list sends the exit text as status and RUNNING (or nothing) while running.
	if t.End.IsZero() && (t.Status == "" || strings.EqualFold(t.Status, "running")) {
		t.Status = "running"
	}
	return t
}

func itoa(i int) string { return strconv.Itoa(i) }
