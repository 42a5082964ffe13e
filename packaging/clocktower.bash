# bash completion for clocktower. Install:
#   install -m 0644 packaging/clocktower.bash /usr/share/bash-completion/completions/clocktower
# or source it from ~/.bashrc. Job names are completed from the API at
# --address / CLOCKTOWER_ADDRESS (default http://127.0.0.1:8080) when it answers.

_clocktower_jobs() {
  local addr=$1 token=$2
  command -v clocktower >/dev/null 2>&1 || return
  clocktower jobs list --json ${addr:+--address "$addr"} ${token:+--api-token "$token"} 2>/dev/null |
    grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_clocktower() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local node_flags='--data-dir --http-addr --node-name --api-token --output-limit --history-limit --max-body-bytes --snapshot-every --plugin-dir --config --help --mail-host --mail-port --mail-username --mail-password --mail-from --mail-payload --mail-subject-prefix --webhook-endpoint --webhook-payload --webhook-headers --pre-webhook-endpoint --pre-webhook-payload --pre-webhook-headers --notify-attempts --notify-backoff --notify-timeout'
  local agent_flags="--server --bootstrap-expect --join --retry-join --rpc-addr --advertise-rpc-addr --raft-multiplier --tag --capacity --agent-timeout --shutdown-grace $node_flags"
  local client_flags='--address --api-token --help'

  case $prev in
    --data-dir|--plugin-dir)
      COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --config|-f)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --http-addr|--rpc-addr|--advertise-rpc-addr|--join|--retry-join|--node-name|--api-token|--address|--tag|--bootstrap-expect|--capacity|--agent-timeout|--shutdown-grace|--raft-multiplier|--output-limit|--history-limit|--max-body-bytes|--snapshot-every|--peer-id|--q|--status|--metadata|--policy|--description|--ttl)
      return ;;
  esac

  local command=${words[1]} sub=${words[2]}
  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W 'light agent jobs raft acl leave version help --help --version' -- "$cur"))
    return
  fi
  case $command in
    light) COMPREPLY=($(compgen -W "$node_flags" -- "$cur")) ;;
    agent) COMPREPLY=($(compgen -W "$agent_flags" -- "$cur")) ;;
    jobs)
      if [ "$cword" -eq 2 ]; then
        COMPREPLY=($(compgen -W 'list get put delete run toggle executions stop' -- "$cur"))
      elif [[ $cur == -* ]]; then
        case $sub in
          list) COMPREPLY=($(compgen -W "--json --q --status --metadata $client_flags" -- "$cur")) ;;
          executions) COMPREPLY=($(compgen -W "--json $client_flags" -- "$cur")) ;;
          put) COMPREPLY=($(compgen -W "-f $client_flags" -- "$cur")) ;;
          *) COMPREPLY=($(compgen -W "$client_flags" -- "$cur")) ;;
        esac
      elif [ "$cword" -eq 3 ]; then
        case $sub in
          get|delete|run|toggle|executions|stop)
            local addr='' token='' i
            for ((i = 1; i < cword; i++)); do
              [ "${words[i]}" = --address ] && addr=${words[i+1]}
              [ "${words[i]}" = --api-token ] && token=${words[i+1]}
            done
            COMPREPLY=($(compgen -W "$(_clocktower_jobs "$addr" "$token")" -- "$cur")) ;;
        esac
      fi ;;
    raft)
      if [ "$cword" -eq 2 ]; then
        COMPREPLY=($(compgen -W 'list-peers remove-peer' -- "$cur"))
      elif [ "$sub" = remove-peer ]; then
        COMPREPLY=($(compgen -W "--peer-id $client_flags" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "--json $client_flags" -- "$cur"))
      fi ;;
    acl)
      if [ "$cword" -eq 2 ]; then
        COMPREPLY=($(compgen -W 'bootstrap token policy' -- "$cur"))
      elif [ "$cword" -eq 3 ] && [ "$sub" = token ]; then
        COMPREPLY=($(compgen -W 'create list delete self' -- "$cur"))
      elif [ "$cword" -eq 3 ] && [ "$sub" = policy ]; then
        COMPREPLY=($(compgen -W 'apply list get delete' -- "$cur"))
      else
        COMPREPLY=($(compgen -W "--policy --description --ttl --management -f --json $client_flags" -- "$cur"))
      fi ;;
    leave|version) COMPREPLY=($(compgen -W "$client_flags" -- "$cur")) ;;
  esac
}

complete -F _clocktower clocktower
