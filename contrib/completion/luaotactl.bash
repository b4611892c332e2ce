# bash completion for luaotactl(8)
# shellcheck shell=bash

# Runs luaotactl with the -c/-D/-w options already on the command line.
_luaotactl_run()
{
	local i db=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | -D | --database | -w | --wait)
			db+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
			;;
		esac
	done
	luaotactl "${db[@]}" "$@" 2>/dev/null
}

_luaotactl_chips()
{
	_luaotactl_run list | awk 'NR > 1 { print $1 }'
}

_luaotactl_groups()
{
	_luaotactl_run group list | awk 'NR > 1 { print $1 }'
}

_luaotactl_repos()
{
	_luaotactl_run repo list | awk 'NR > 1 { print $1 }'
}

_luaotactl()
{
	local cur prev i cmd="" sub="" nargs=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	# Find the command (and sub-command) past the global options.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | -D | --database | -w | --wait) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
			elif [[ -z $sub && $cmd =~ ^(group|repo|history|rollout|token)$ ]]; then
				sub=${COMP_WORDS[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	case $prev in
	-c | -D | --database | --repo | --output | backup | import)
		COMPREPLY=($(compgen -f -- "$cur"))
		[[ $prev == --repo ]] &&
			COMPREPLY+=($(compgen -W "$(_luaotactl_repos)" -- "$cur"))
		return
		;;
	--group)
		COMPREPLY=($(compgen -W "$(_luaotactl_groups)" -- "$cur"))
		return
		;;
	--lua)
		COMPREPLY=($(compgen -W "5.1 5.3" -- "$cur"))
		return
		;;
	-w | --wait | --secret | --label | --files | --action | --config | \
		--max-file-size | --ref | --since | --limit | --stale | \
		--silent-for | --to | --canary | --steps | --max-failures | \
		--max-inflight | --soak | --deadline | --loop | --loop-window)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "add list show set remove history diff
			reprovision pull pulls group repo rollout token import export check
			backup status
			-c --config -D --database -w --wait -h --help -V --version" \
			-- "$cur"))
		return
	fi

	local opts=""
	case $cmd in
	add) opts="--group --secret --label" ;;
	list) opts="--group --silent-for --stale --failing --json" ;;
	show) opts="--json" ;;
	set)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -W "$(_luaotactl_chips)" -- "$cur"))
		else
			compopt -o nospace 2>/dev/null
			COMPREPLY=($(compgen -W "label= group= enabled= server=
				port= ssid= spwd= app= entry= leave= espip= gw= nm=
				nsserver=" -- "$cur"))
		fi
		return
		;;
	diff) opts="--group --json" ;;
	reprovision) opts="--group" ;;
	pull)
		((nargs == 0)) &&
			COMPREPLY=($(compgen -W "$(_luaotactl_chips)" -- "$cur"))
		return
		;;
	pulls) opts="show --output --json" ;;
	history)
		case $sub in
		"") COMPREPLY=($(compgen -W "show --since --failed --limit --json
			$(_luaotactl_chips)" -- "$cur")) ;;
		show) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "--since --failed --limit --json" \
			-- "$cur")) ;;
		esac
		return
		;;
	group)
		case $sub in
		"") COMPREPLY=($(compgen -W "add set list show remove pin unpin" \
			-- "$cur")) ;;
		add | set) COMPREPLY=($(compgen -W "--repo --ref --files --action
			--max-file-size --lua --config" -- "$cur")) ;;
		list) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
		show | remove | pin | unpin) COMPREPLY=($(compgen -W "--json
			$(_luaotactl_groups)" -- "$cur")) ;;
		esac
		[[ $sub == set && $nargs == 0 ]] &&
			COMPREPLY=($(compgen -W "$(_luaotactl_groups)" -- "$cur"))
		return
		;;
	rollout)
		case $sub in
		"") COMPREPLY=($(compgen -W "start status pause resume abort
			list" -- "$cur")) ;;
		start)
			if ((nargs == 0)) && [[ $cur != -* ]]; then
				COMPREPLY=($(compgen -W "$(_luaotactl_groups)" \
					-- "$cur"))
			else
				COMPREPLY=($(compgen -W "--to --canary --steps
					--max-failures --max-inflight --soak
					--deadline --loop --loop-window --json" \
					-- "$cur"))
			fi
			;;
		*) COMPREPLY=($(compgen -W "--json --chips
			$(_luaotactl_groups)" -- "$cur")) ;;
		esac
		return
		;;
	token)
		case $sub in
		"") COMPREPLY=($(compgen -W "add list remove" -- "$cur")) ;;
		add) COMPREPLY=($(compgen -W "--read-only --json" -- "$cur")) ;;
		list) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
		esac
		return
		;;
	repo)
		case $sub in
		"") COMPREPLY=($(compgen -W "add list show" -- "$cur")) ;;
		add)
			if ((nargs == 1)); then
				COMPREPLY=($(compgen -d -- "$cur"))
			else
				COMPREPLY=($(compgen -W "--ref" -- "$cur"))
			fi
			;;
		list) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
		show) COMPREPLY=($(compgen -W "--json $(_luaotactl_repos)" \
			-- "$cur")) ;;
		esac
		return
		;;
	export) opts="--with-secrets" ;;
	check) opts="--json" ;;
	status) opts="--since --json" ;;
	esac
	if [[ $cur == -* || ! $cmd =~ ^(show|remove|diff|reprovision)$ ]] ||
		((nargs > 0)); then
		COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(_luaotactl_chips)" -- "$cur"))
	fi
}

complete -F _luaotactl luaotactl
