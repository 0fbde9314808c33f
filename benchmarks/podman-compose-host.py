#!/usr/bin/python3
"""podman-compose (Debian's 1.0.3) with one bug worked around: a service with `network_mode: host`
is also given the project's default network (`--network host ... --net P_default`), which podman
refuses ("cannot set multiple networks without bridge network mode"); fixed upstream later. Here a
service with a network_mode gets no --net/--network-alias and no network is created for it.
Everything else is podman-compose as packaged. Used by benchmarks/compare.py."""
import sys
import podman_compose as pc

_net_args, _assert_nets = pc.get_net_args, pc.assert_cnt_nets
pc.get_net_args = lambda compose, cnt: [] if cnt.get("network_mode") else _net_args(compose, cnt)
pc.assert_cnt_nets = lambda compose, cnt: None if cnt.get("network_mode") else _assert_nets(compose, cnt)
sys.exit(pc.main())
