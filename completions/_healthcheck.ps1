
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'healthcheck' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'healthcheck'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'healthcheck' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the checks and report')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain one finding code: title, problem, solution and docs link')
            [CompletionResult]::new('codes', 'codes', [CompletionResultType]::ParameterValue, 'List every finding code')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'healthcheck;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'healthcheck;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write healthcheck.1, healthcheck-run.1, ... into this directory')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'healthcheck;run' {
            [CompletionResult]::new('--access-url', '--access-url', [CompletionResultType]::ParameterName, 'The deployment''s external URL, e.g. https://coder.example.com [env: CODER_ACCESS_URL]')
            [CompletionResult]::new('--postgres-url', '--postgres-url', [CompletionResultType]::ParameterName, 'PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered built-in PostgreSQL of `coder server` [env: CODER_PG_CONNECTION_URL]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Session token, sent as Coder-Session-Token to endpoints that need one [env: CODER_SESSION_TOKEN]')
            [CompletionResult]::new('--derp-server-enable', '--derp-server-enable', [CompletionResultType]::ParameterName, 'Include the embedded DERP relay at the access URL [env: CODER_DERP_SERVER_ENABLE]')
            [CompletionResult]::new('--derp-server-stun-addresses', '--derp-server-stun-addresses', [CompletionResultType]::ParameterName, 'STUN servers, comma separated host:port; `disable` for none (the default is Coder''s list) [env: CODER_DERP_SERVER_STUN_ADDRESSES]')
            [CompletionResult]::new('--derp-config-path', '--derp-config-path', [CompletionResultType]::ParameterName, 'A DERP map JSON file to merge in [env: CODER_DERP_CONFIG_PATH]')
            [CompletionResult]::new('--derp-config-url', '--derp-config-url', [CompletionResultType]::ParameterName, 'A DERP map JSON URL to merge in [env: CODER_DERP_CONFIG_URL]')
            [CompletionResult]::new('--block-direct-connections', '--block-direct-connections', [CompletionResultType]::ParameterName, 'Direct connections are off: no STUN nodes in the DERP map [env: CODER_BLOCK_DIRECT]')
            [CompletionResult]::new('--health-check-threshold-database', '--health-check-threshold-database', [CompletionResultType]::ParameterName, 'Median database ping at or above this is a warning (EDB02) [env: CODER_HEALTH_CHECK_THRESHOLD_DATABASE]')
            [CompletionResult]::new('--http-address', '--http-address', [CompletionResultType]::ParameterName, 'coderd''s own HTTP listener (as in Coder''s config, e.g. 0.0.0.0:3000): the Access URL section also asks it for /healthz, to tell a down coderd from a broken path to it [env: CODER_HTTP_ADDRESS]')
            [CompletionResult]::new('--tls-address', '--tls-address', [CompletionResultType]::ParameterName, 'coderd''s own TLS listener (e.g. 0.0.0.0:3443); probed instead of the HTTP listener, which only redirects once TLS is on, unless only --http-address is typed on the command line (the certificate is not verified: it is issued for the access URL''s name) [env: CODER_TLS_ADDRESS]')
            [CompletionResult]::new('--cert-expiry-warning', '--cert-expiry-warning', [CompletionResultType]::ParameterName, 'A TLS certificate expiring within this is a warning (ETLS01); Go durations, plus days (14d)')
            [CompletionResult]::new('--db-connections-warning', '--db-connections-warning', [CompletionResultType]::ParameterName, 'Database connections in use at this share of the slots a non-superuser may take are a warning (EPG02); 1-100, with or without %')
            [CompletionResult]::new('--job-pending-warning', '--job-pending-warning', [CompletionResultType]::ParameterName, 'Provisioner jobs not started after this long are EPQ01')
            [CompletionResult]::new('--license-expiry-warning', '--license-expiry-warning', [CompletionResultType]::ParameterName, 'A Coder license expiring within this is a warning (ELIC01); Go durations, plus days (30d)')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Run only these sections (comma separated)')
            [CompletionResult]::new('--skip', '--skip', [CompletionResultType]::ParameterName, 'Skip these sections (comma separated)')
            [CompletionResult]::new('--dismiss', '--dismiss', [CompletionResultType]::ParameterName, 'Sections whose findings are shown but do not fail the run (adds to the deployment''s own dismissed list)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Deadline for the run: every section, and all of them together [env: HEALTHCHECK_TIMEOUT]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: table, json, prometheus or junit [default: table]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the report to FILE (atomically: a temporary file in the same folder, then rename) instead of stdout')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Run again every DUR until Ctrl-C or SIGTERM; exit with the last run''s exit code')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'The lowest severity that makes the exit code 1')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)')
            [CompletionResult]::new('--docs-url', '--docs-url', [CompletionResultType]::ParameterName, 'Base URL for docs links [env: CODER_DOCS_URL]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Coder''s environment file (KEY=value lines); by default the one below, if readable [default: /etc/coder.d/coder.env] [env: HEALTHCHECK_ENV_FILE]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write the JSON report to stdout, nothing else (short for --format json)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail per section (each ping, DERP node, proxy, daemon)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail per section (each ping, DERP node, proxy, daemon)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'healthcheck;explain' {
            [CompletionResult]::new('--docs-url', '--docs-url', [CompletionResultType]::ParameterName, 'Base URL for docs links [env: CODER_DOCS_URL]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'healthcheck;codes' {
            [CompletionResult]::new('--docs-url', '--docs-url', [CompletionResultType]::ParameterName, 'Base URL for docs links [env: CODER_DOCS_URL]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the list as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'healthcheck;help' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the checks and report')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain one finding code: title, problem, solution and docs link')
            [CompletionResult]::new('codes', 'codes', [CompletionResultType]::ParameterValue, 'List every finding code')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'healthcheck;help;completions' {
            break
        }
        'healthcheck;help;man' {
            break
        }
        'healthcheck;help;run' {
            break
        }
        'healthcheck;help;explain' {
            break
        }
        'healthcheck;help;codes' {
            break
        }
        'healthcheck;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
