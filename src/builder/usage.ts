/** `cicd builder --help`. Flags and env names must match options.ts. */
export const builderUsage = `Usage: cicd builder [options]

Fetches a project, runs its build commands and publishes the artifacts of a good build to the
service file system. Every option can also come from the environment variable named beside it.

Build:
  --url URL            source: https/ssh git URL, file://PATH, files://PATH, servicefs://PATH   CICD_URL
  --command CMD        build command, run with sh -c; repeat for more (all must pass)        CICD_COMMAND *
  --artifact GLOB      file(s) the build produces, relative to the workspace; repeatable   CICD_ARTIFACT *
  --token TOKEN        token for private git repositories over HTTPS (never printed)       CICD_TOKEN
  --ref REF            branch or tag to build (default: the repository's default branch)    CICD_REF
  --sha SHA            exact commit to build                                               CICD_SHA
  --key KEY            build key (default: random)                                         CICD_KEY
  --secrets FILE       KEY=VALUE lines handed to the commands as env, masked in output     CICD_SECRETS
  --servicefs DIR      root of the service file system (required unless --publish-to manager) CICD_SERVICEFS
  --target NAME        target to publish under                                             CICD_TARGET
  --workdir DIR        where workspaces are made (default: the temp folder)                CICD_WORKDIR
  --log-dir DIR        where <key>.log files are kept (default: <workdir>/cicd-logs)       CICD_LOG_DIR
  --git-cache DIR      keep a bare mirror of each git repository in DIR/<hash>.git; a      CICD_GIT_CACHE
                       build then fetches only new objects (builders may share DIR)
  --git-mirror DIR     the same for one repository: its mirror is DIR/mirror.git (what the CICD_GIT_MIRROR
                       manager passes, mounting only that folder); wins over --git-cache
  --keep-workspace DIR keep the work tree of a remote git source in DIR between builds and    CICD_KEEP_WORKSPACE
                       update it (checkout, clean -ffdx) instead of writing every file; needs
                       the git cache

Isolation (what the manager passes to the builders it starts):
  --user UID[:GID]     run the build commands as this user (the builder must be root);     CICD_USER
                       "root" runs them as the builder's own user
  --cache-dir DIR      a cache folder the commands' user must be able to write; repeatable CICD_CACHE_DIR *
  --isolate-network    before the build, cut this container off from private, link-local   CICD_ISOLATE_NETWORK
                       and host addresses (needs iptables and CAP_NET_ADMIN; fails closed)
  --deny-net CIDR      another address range to cut off (the host's); repeatable           CICD_DENY_NET *
  --publish-to WHERE   servicefs (default) or manager: send good builds' files to the      CICD_PUBLISH_TO
                       manager, which publishes them
  --max-builds N       serve up to N builds one after another, saying ready after each;     CICD_MAX_BUILDS
                       end after N, after 90 s idle, or when the manager did not hear a build end
  --fetch-build        fetch the build from the manager after saying ready, rather than    CICD_FETCH_BUILD
                       wait for it (when the manager cannot connect to this builder)

Mode:
  --run-on-startup     build at once with the options above; exit 0 on success, 1 on failure
                       (--run-on-startup=false or --no-run-on-startup: serve)              CICD_RUN_ON_STARTUP
  otherwise            serve POST /build and GET /status and broadcast "ready"
  --port PORT          port to listen on (default 0: a free one)                           CICD_PORT
  --host ADDR          address to listen on (default 0.0.0.0)                              CICD_HOST
  --once               serve one build, then exit with its result                          CICD_ONCE=1

Manager:
  --manager-url URL    where events (ready, started, success, failure) are POSTed           CICD_MANAGER_URL
  --manager-token TOK  bearer token for events and required by this builder's endpoint     CICD_MANAGER_TOKEN
  --builder-id ID      this builder's id in events (default: builder-<pid>)                CICD_BUILDER_ID
  (events are retried with back-off while the manager is unreachable, for at most 2m each;
   CICD_BROADCAST_GIVE_UP=30s changes that)

  * in the environment: one value per line, or a JSON array of strings.
  -h, --help           print this help
`;
