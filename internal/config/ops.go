package config

import (
	"slices"
	"strconv"
)

// MenuItem is one button of the WeCom app's menu (bot menu sync). A click sends Key
// back to the bot, which runs it as a typed command; an item with SubButtons opens
// them instead and has no key.
type MenuItem struct {
	Name       string     `yaml:"name"`
	Key        string     `yaml:"key"` // the command to run, e.g. "vm list"
	SubButtons []MenuItem `yaml:"sub_button"`
}

// WeCom's limits on an app menu (menu/create).
const (
	MaxMenuButtons    = 3   // top-level buttons
	MaxMenuSubButtons = 5   // per top-level button
	MaxMenuNameBytes  = 16  // a top-level button's name
	MaxMenuSubName    = 40  // a sub-button's name
	MaxMenuKeyBytes   = 128 // a click key
)

// DefaultMenu is the menu used when the config has no menu section: the three commands
// mobile users reach for most.
func DefaultMenu() []MenuItem { return slices.Clone(defaultMenu) }

// MenuItems is the configured menu, or DefaultMenu when there is none.
func (c *Config) MenuItems() []MenuItem {
	if len(c.Menu) == 0 {
		return DefaultMenu()
	}
	return c.Menu
}

// menu checks the menu against WeCom's limits, so that `bot menu sync` never sends
// one WeCom refuses.
func (v *validator) menu() {
	if len(v.c.Menu) > MaxMenuButtons {
		v.add("menu", "has %d buttons; WeCom allows at most %d top-level buttons", len(v.c.Menu), MaxMenuButtons)
	}
	for i, it := range v.c.Menu {
		key := "menu[" + strconv.Itoa(i) + "]"
		v.menuItem(key, it, MaxMenuNameBytes)
		if len(it.SubButtons) > MaxMenuSubButtons {
			v.add(key+".sub_button", "has %d buttons; WeCom allows at most %d", len(it.SubButtons), MaxMenuSubButtons)
		}
		for j, sub := range it.SubButtons {
			sk := key + ".sub_button[" + strconv.Itoa(j) + "]"
			v.menuItem(sk, sub, MaxMenuSubName)
			if len(sub.SubButtons) > 0 {
				v.add(sk+".sub_button", "WeCom menus have two levels only")
			}
		}
	}
}

func (v *validator) menuItem(key string, it MenuItem, maxName int) {
	switch {
	case it.Name == "":
		v.add(key+".name", "is required")
	case len(it.Name) > maxName:
		v.add(key+".name", "is %d bytes; WeCom allows at most %d (a Chinese character is 3 bytes)", len(it.Name), maxName)
	}
	switch {
	case len(it.SubButtons) > 0 && it.Key != "":
		v.add(key+".key", "give key or sub_button, not both")
	case len(it.SubButtons) == 0 && it.Key == "":
		v.add(key+".key", "is required: the command a click runs, like \"vm list\"")
	case len(it.Key) > MaxMenuKeyBytes:
		v.add(key+".key", "is %d bytes; WeCom allows at most %d", len(it.Key), MaxMenuKeyBytes)
	}
}
