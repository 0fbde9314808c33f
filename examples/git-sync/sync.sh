#!/usr/bin/env bash
# Minimal git-sync: check out the newest commit of REPO into ROOT/rev-<sha> and atomically point
# ROOT/current at it. Run from cron or a timer; Flotilla watching ROOT/current picks it up.
#   sync.sh REPO ROOT [BRANCH]
set -euo pipefail
repo=$1 root=$2 branch=${3:-main}
mkdir -p "$root"
[ -d "$root/.repo" ] || git clone -q --bare "$repo" "$root/.repo"
git -C "$root/.repo" fetch -q origin "$branch:$branch"
sha=$(git -C "$root/.repo" rev-parse --short "$branch")
[ -d "$root/rev-$sha" ] || git -C "$root/.repo" worktree add -q --detach "$root/rev-$sha" "$sha"
ln -sfn "rev-$sha" "$root/.current.tmp"
mv -T "$root/.current.tmp" "$root/current"     # rename(2): readers see the old or the new tree
