package notify

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
)

// sendImage sends a push's picture to one target, as the target takes pictures: app users
// and group chats by an uploaded media_id, robots as base64 (within the robot's rate).
func (n *Notifier) sendImage(ctx context.Context, name string, t config.Target, data []byte) {
	var err error
	switch t.Kind() {
	case "appchat":
		err = n.sender.AppChatSendImage(ctx, t.AppChat, data)
	case "robot":
		key := t.WebhookKey.Value()
		if err = n.robot(key).Wait(ctx); err == nil {
			err = n.sender.RobotSendImage(ctx, key, data)
		}
	case "users":
		// Counted in the members' budget like the text; a picture without room is skipped
		// rather than held (the text after it waits in the outbox if it must).
		if wait := n.o.Budget.Reserve(t.Users...); wait > 0 {
			err = overBudget{wait}
			break
		}
		err = n.sender.SendImage(ctx, t.Users, data)
	default:
		err = fmt.Errorf("notify: target %q has no kind", name)
	}
	if err != nil {
		n.log.Warn("push picture not delivered; the text goes alone", zap.String("target", name), zap.Error(err))
	}
}
