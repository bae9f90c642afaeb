package main

import (
	"path/filepath"
	"syscall"
)

// networkFSMagic are statfs f_type values of network file systems, where SQLite's
// file locking is unreliable (https://www.sqlite.org/lockingv3.html#how_to_corrupt).
var networkFSMagic = map[int64]string{
	0x6969:     "nfs",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x517B:     "smb",
	0x01021997: "9p",
	0x65735546: "fuse (sshfs, rclone...)",
	0x564c:     "ncp",
	0x73757245: "coda",
	0x61636673: "acfs",
	0x5346414F: "afs",
	0x19830326: "fhgfs",
	0x47504653: "gpfs",
	0x0BD00BD0: "lustre",
	0x1161970:  "gfs2",
	0x013111A8: "ibrix",
	0x6B414653: "afs (kafs)",
	0x7461636f: "ocfs2",
	0x00c36400: "ceph",
}

// networkFS reports whether dir (or its nearest existing parent) is on a network file
// system, and which.
func networkFS(dir string) (string, bool) {
	var st syscall.Statfs_t
	for d := dir; ; {
		if err := syscall.Statfs(d, &st); err == nil {
			name, ok := networkFSMagic[int64(st.Type)&0xFFFFFFFF] // 32-bit platforms sign-extend
			return name, ok
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}
