"""A real nginx (Debian's nginx-light) on a loopback port for the tests that need a web server:
no root, every file it writes in the test's own folder, its access log in `base/access.log`."""
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(base, port, log_format, http_extra, server_body, timeout=30):
    """Writes base/nginx.conf (one server on 127.0.0.1:port) and starts nginx in the foreground;
    returns its process once the port accepts connections."""
    b = base
    conf = b / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
pid {b}/nginx.pid;
error_log {b}/error.log;
events {{}}
http {{
  log_format t '{log_format}';
  access_log {b}/access.log t;
  client_body_temp_path {b}/tmp_body;
  proxy_temp_path {b}/tmp_proxy;
  fastcgi_temp_path {b}/tmp_fastcgi;
  uwsgi_temp_path {b}/tmp_uwsgi;
  scgi_temp_path {b}/tmp_scgi;
  {http_extra}
  server {{
    listen 127.0.0.1:{port};
    {server_body}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", str(b), "-c", str(conf), "-e", str(b / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening")
            time.sleep(0.05)


def stop_nginx(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
