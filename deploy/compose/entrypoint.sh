#!/bin/sh
# PID 2 of every node (tini is PID 1): what systemd's units and provision/*.sh do on the machines.
#   coordinator       seeds demo/app in the local forge once, then runs the coordinator
#   agent             runs the agent named by CCC_AGENT_ID (enrolled once; its own credential pushes)
#   rehearsal-model   the scripted Messages API on port 8090
set -eu
app=/opt/ccc/app
role=${1:-}
case $role in
  coordinator)
    export CCC_DATA_DIR=/var/lib/ccc/coordinator
    forge=$CCC_DATA_DIR/forge
    if [ ! -f "$forge/demo/app.git/HEAD" ]; then
      node --input-type=module -e "import { ensureDemoRepo } from '$app/dist/daemons/cli/demo-repo.js'; ensureDemoRepo(process.argv[1]);" "$forge"
    fi
    exec node "$app/dist/daemons/cli/main.js" coordinator ;;
  agent)
    # It enrolls with the join token once; its own credential (in the data volume) pushes to the forge.
    export CCC_DATA_DIR=/var/lib/ccc/agent HOME=/var/lib/ccc/agent
    exec node "$app/dist/daemons/cli/main.js" agent ;;
  rehearsal-model)
    exec node "$app/dist/daemons/cli/main.js" rehearsal-model --host 0.0.0.0 --port 8090 ;;
  *)
    echo "entrypoint: unknown role '$role': one of coordinator, agent, rehearsal-model" >&2
    exit 64 ;;
esac
