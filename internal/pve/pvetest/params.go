package pvetest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// endpointParams lists the parameters each endpoint's schema defines (PVE 8.4 apidata subset;
// facts only). Path parameters are included because PVE accepts them in the body too.
func endpointParams(key string) []string {
	switch key {
	case "GET /version", "GET /nodes", "GET /cluster/status":
		return nil
	case "GET /cluster/resources":
		return []string{"type"}
	case "GET /access/permissions":
		return []string{"path", "userid"}
	case "GET /nodes/{node}/status":
		return []string{"node"}
	case "GET /nodes/{node}/qemu":
		return []string{"full", "node"}
	case "GET /nodes/{node}/lxc":
		return []string{"node"}
	case "GET /nodes/{node}/qemu/{vmid}/status/current", "GET /nodes/{node}/lxc/{vmid}/status/current",
		"GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", "GET /nodes/{node}/lxc/{vmid}/interfaces":
		return []string{"node", "vmid"}
	case "GET /nodes/{node}/storage":
		return []string{"content", "enabled", "format", "node", "storage", "target"}
	case "GET /nodes/{node}/tasks":
		return []string{"errors", "limit", "node", "since", "source", "start", "statusfilter", "typefilter", "until", "userfilter", "vmid"}
	case "GET /nodes/{node}/tasks/{upid}/status":
		return []string{"node", "upid"}
	case "GET /nodes/{node}/tasks/{upid}/log":
		return []string{"download", "limit", "node", "start", "upid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/start":
		return []string{"force-cpu", "machine", "migratedfrom", "migration_network", "migration_type", "node", "skiplock", "stateuri", "targetstorage", "timeout", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/stop":
		return []string{"keepActive", "migratedfrom", "node", "overrule-shutdown", "skiplock", "timeout", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/shutdown":
		return []string{"forceStop", "keepActive", "node", "skiplock", "timeout", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/reboot", "POST /nodes/{node}/lxc/{vmid}/status/reboot":
		return []string{"node", "timeout", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/reset":
		return []string{"node", "skiplock", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/suspend":
		return []string{"node", "skiplock", "statestorage", "todisk", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/status/resume":
		return []string{"nocheck", "node", "skiplock", "vmid"}
	case "POST /nodes/{node}/lxc/{vmid}/status/start":
		return []string{"debug", "node", "skiplock", "vmid"}
	case "POST /nodes/{node}/lxc/{vmid}/status/stop":
		return []string{"node", "overrule-shutdown", "skiplock", "vmid"}
	case "POST /nodes/{node}/lxc/{vmid}/status/shutdown":
		return []string{"forceStop", "node", "timeout", "vmid"}
	case "POST /nodes/{node}/lxc/{vmid}/status/suspend", "POST /nodes/{node}/lxc/{vmid}/status/resume":
		return []string{"node", "vmid"}
	case "GET /cluster/backup", "GET /cluster/backup-info/not-backed-up", "GET /cluster/notifications/endpoints/webhook":
		return nil
	case "POST /nodes/{node}/vzdump":
		return []string{"all", "compress", "exclude", "mailnotification", "mailto", "mode", "node", "notes-template",
			"notification-mode", "pool", "protected", "remove", "storage", "vmid"}
	case "GET /nodes/{node}/storage/{storage}/content":
		return []string{"content", "node", "storage", "vmid"}
	case "POST /nodes/{node}/status":
		return []string{"command", "node"}
	case "POST /nodes/{node}/wakeonlan":
		return []string{"node"}
	case "GET /nodes/{node}/qemu/{vmid}/config", "GET /nodes/{node}/lxc/{vmid}/config":
		return []string{"current", "node", "snapshot", "vmid"}
	case "GET /nodes/{node}/qemu/{vmid}/migrate":
		return []string{"node", "target", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/migrate":
		return []string{"bwlimit", "force", "migration_network", "migration_type", "node", "online", "target", "targetstorage", "vmid", "with-conntrack-state", "with-local-disks"}
	case "POST /nodes/{node}/lxc/{vmid}/migrate":
		return []string{"bwlimit", "node", "online", "restart", "target", "target-storage", "timeout", "vmid"}
	case "GET /nodes/{node}/qemu/{vmid}/snapshot", "GET /nodes/{node}/lxc/{vmid}/snapshot":
		return []string{"node", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/snapshot":
		return []string{"description", "node", "snapname", "vmid", "vmstate"}
	case "POST /nodes/{node}/lxc/{vmid}/snapshot":
		return []string{"description", "node", "snapname", "vmid"}
	case "POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback", "POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback":
		return []string{"node", "snapname", "start", "vmid"}
	case "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}", "DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}":
		return []string{"force", "node", "snapname", "vmid"}
	}
	return nil
}

// paramType is the schema type of a parameter, for PVE's type-check messages.
func paramType(name string) string {
	switch name {
	case "skiplock", "forceStop", "keepActive", "overrule-shutdown", "todisk", "nocheck", "errors",
		"enabled", "format", "download", "full", "debug", "vmstate", "force", "online", "restart", "with-local-disks", "current", "all", "protected", "remove":
		return "boolean"
	case "timeout", "limit", "start", "since", "until", "vmid":
		return "integer"
	}
	return "string"
}

// verifyParams answers 400 like PVE's JSONSchema validation when a parameter is not in the
// schema (additionalProperties 0) or fails its type check.
func (s *Server) verifyParams(c *call, key string) bool {
	allowed := map[string]bool{}
	for _, p := range endpointParams(key) {
		allowed[p] = true
	}
	errs := map[string]string{}
	names := make([]string, 0, len(c.params))
	for k := range c.params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed[k] {
			errs[k] = "property is not defined in schema and the schema does not allow additional properties"
			continue
		}
		v := c.params.Get(k)
		typ := paramType(k)
		if key == "POST /nodes/{node}/vzdump" && k == "vmid" {
			typ = "string" // pve-vmid-list
		}
		switch typ {
		case "boolean":
			switch strings.ToLower(v) {
			case "0", "1", "true", "false", "yes", "no", "on", "off":
			default:
				errs[k] = "type check ('boolean') failed - got '" + v + "'"
			}
		case "integer":
			if _, err := strconv.Atoi(v); err != nil {
				errs[k] = "type check ('integer') failed - got '" + v + "'"
			}
		}
	}
	if key == "GET /cluster/resources" {
		if t := c.params.Get("type"); t != "" && t != "vm" && t != "storage" && t != "node" && t != "sdn" {
			errs["type"] = "value '" + t + "' does not have a value in the enumeration 'vm, storage, node, sdn'"
		}
	}
	if len(errs) > 0 {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", errs)
		return false
	}
	return true
}

func boolParam(c *call, name string) bool {
	switch strings.ToLower(c.params.Get(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
