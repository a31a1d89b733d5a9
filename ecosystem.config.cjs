// pm2 runs the primary alone: fork mode, one instance. The primary forks the Socket.IO workers
// itself (WORKERS: cores - 1 by default), so pm2's own cluster mode must stay off: it would fight
// the sticky sessions. `npm run build` first (npm start does it for you).
//
//   npx pm2 start ecosystem.config.cjs                     # development defaults
//   JWT_SECRET=... npx pm2 start ecosystem.config.cjs --env production
//   npx pm2 sendSignal SIGUSR2 chat                        # rolling restart (deploys)
//   npx pm2 stop chat                                      # SIGINT: drain, then exit 0
const shutdownTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS || 10000)

module.exports = {
  apps: [{
    name: 'chat',
    script: 'dist/src/main.js',
    cwd: __dirname,
    exec_mode: 'fork',
    instances: 1,
    // The primary sends 'ready' once every worker serves and the port is open.
    wait_ready: true,
    listen_timeout: 60000,
    // pm2 sends SIGINT, then SIGKILL after kill_timeout: leave the drain its whole deadline.
    kill_timeout: shutdownTimeoutMs + 5000,
    // Signal the primary only; it drains and stops its workers itself.
    treekill: false,
    autorestart: true,
    exp_backoff_restart_delay: 200,
    merge_logs: true,
    env: {
      NODE_ENV: 'development'
    },
    env_production: {
      NODE_ENV: 'production'
    }
  }]
}
