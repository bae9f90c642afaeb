package pve

import "context"

// WebhookTarget is one webhook target of PVE's notification system (PVE 8.3+).
type WebhookTarget struct {
	Name, URL string
	Disabled  bool
}

// WebhookTargets lists the notification system's webhook targets (GET
// /cluster/notifications/endpoints/webhook: Mapping.Audit, Mapping.Modify or Mapping.Use on
// /mapping/notifications; PVE < 8.3 has no such endpoint).
func (c *Client) WebhookTargets(ctx context.Context) ([]WebhookTarget, error) {
	op := "list webhook targets"
	body, err := c.get(ctx, "/cluster/notifications/endpoints/webhook", nil, op)
	if err != nil {
		return nil, err
	}
	raws, _, err := decodeList[struct {
		Name    flexStr `json:"name"`
		URL     flexStr `json:"url"`
		Disable flexNum `json:"disable"`
	}](body)
	if err != nil {
		return nil, c.decodeErr(op, err)
	}
	out := make([]WebhookTarget, 0, len(raws))
	for _, r := range raws {
		out = append(out, WebhookTarget{Name: string(r.Name), URL: string(r.URL), Disabled: r.Disable.bool()})
	}
	return out, nil
}
