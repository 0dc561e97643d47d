<?php
// Open Runtimes adapter for PHP (>= 8.0): speaks the v5 executor wire (or v2 when
// INTERNAL_RUNTIME_KEY is set) and runs the user's function. php-cli only (pcntl/posix when
// present), so the same file runs on the host and inside an openruntimes/php image.
// Spec: runtimes/README.md.
//
// Why worker processes: PHP cannot interrupt a running function from inside its own process
// (set_time_limit counts CPU time, not sleep or I/O; a signal handler's exception can be caught by
// user code). So this process only owns the sockets, the HTTP parsing and the timeouts, in one
// select() loop, and calls run in forked workers. Each worker includes the entry file once and
// serves calls one at a time, so state survives between calls as in the official Swoole runtime
// (which also keeps one copy per worker); more workers are forked only while all are busy, so
// concurrent calls run in parallel and health checks are answered while a call runs. A call that
// outlives x-open-runtimes-timeout gets its worker SIGKILLed; the server keeps answering. A worker
// that dies inside a call without answering (the function called exit()) takes the server down
// with the same exit code, as it would in a one-process runtime, so the executor sees the crash and
// starts a fresh instance. Without pcntl, calls run one at a time in this process and timeouts
// cannot be enforced.

declare(strict_types=1);

// ---------------------------------------------------------------- config

function env_value(string $name, string $default = ''): string
{
    $value = getenv($name);
    return $value === false || $value === '' ? $default : $value;
}

function parse_enforced_headers(string $raw): array
{
    $parsed = $raw === '' ? [] : json_decode($raw, true);
    $headers = [];
    if (is_array($parsed)) {
        foreach ($parsed as $key => $value) {
            $headers[strtolower((string) $key)] = is_scalar($value) ? (is_bool($value) ? ($value ? 'true' : 'false') : (string) $value) : json_encode($value);
        }
    }
    return $headers;
}

$v2Key = env_value('INTERNAL_RUNTIME_KEY');
define('CONFIG', [
    'host' => env_value('OPEN_RUNTIMES_HOST', '0.0.0.0'),
    'port' => (int) env_value('OPEN_RUNTIMES_PORT', '3000'),
    'codeDir' => env_value('OPEN_RUNTIMES_CODE_DIR', $v2Key !== '' ? '/usr/code' : '/usr/local/server/src/function'),
    'logsDir' => env_value('OPEN_RUNTIMES_LOGS_DIR', '/mnt/logs'),
    'entrypoint' => ($v2Key !== '' ? env_value('INTERNAL_RUNTIME_ENTRYPOINT') : '') ?: env_value('OPEN_RUNTIMES_ENTRYPOINT', 'index.php'),
    'secret' => env_value('OPEN_RUNTIMES_SECRET'),
    'development' => env_value('OPEN_RUNTIMES_ENV') === 'development',
    'headers' => parse_enforced_headers(env_value('OPEN_RUNTIMES_HEADERS')),
    'v2Key' => $v2Key,
    'maxBodyBytes' => 20 * 1024 * 1024,
]);
unset($v2Key);

// ---------------------------------------------------------------- logging

const LOG_LIMIT = 8000;
const TRUNCATED = '... Log truncated due to size limit (8000 characters)';
const NATIVE_NOTICE = 'Native logs detected. Use context.log() or context.error() for better experience.';
// What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
// there is more, so one byte past that is all it needs; a flood stops costing disk or tmpfs (memory).
const LOG_FILE_BYTES = 5 * 1024 * 1024 + 1;

function stringify(mixed $value): string
{
    if (is_string($value)) {
        return $value;
    }
    if (is_bool($value)) {
        return $value ? 'true' : 'false';
    }
    if ($value === null) {
        return 'null';
    }
    if ($value instanceof \Throwable) {
        return error_text($value);
    }
    if (is_object($value) && method_exists($value, '__toString') && !($value instanceof \JsonSerializable)) {
        return (string) $value;
    }
    if (is_array($value) || is_object($value)) {
        $json = json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
        return $json === false ? print_r($value, true) : $json;
    }
    return (string) $value;
}

function format_messages(array $messages): string
{
    $text = implode(' ', array_map('stringify', $messages));
    $length = function_exists('mb_strlen') ? mb_strlen($text, 'UTF-8') : strlen($text);
    if ($length > LOG_LIMIT) {
        $text = (function_exists('mb_substr') ? mb_substr($text, 0, LOG_LIMIT, 'UTF-8') : substr($text, 0, LOG_LIMIT)) . TRUNCATED;
    }
    return $text;
}

function error_text(\Throwable $e): string
{
    return get_class($e) . ': ' . $e->getMessage() . "\n" . $e->getTraceAsString() . "\nAt " . $e->getFile() . ':' . $e->getLine();
}

// PHP uniqid(): 8 hex of seconds + 5 of microseconds; 7 random hex make it 20.
function new_log_id(): string
{
    return uniqid() . substr(bin2hex(random_bytes(4)), 0, 7);
}

// One per call. v5: appends to <id>_logs.log / <id>_errors.log (no id: logging disabled), each
// opened on its first write; with $createEmpty, close() creates the ones never written, so a call
// leaves both files as the official runtimes do. v2 wire ($memory): collects stdout/stderr for the
// JSON response instead. Either way a stream keeps at most LOG_FILE_BYTES of the call's output.
final class Logger
{
    private array $files = []; // stream => handle, or false when it could not be opened
    public array $memory = ['log' => '', 'error' => ''];
    private array $room = ['log' => LOG_FILE_BYTES, 'error' => LOG_FILE_BYTES];
    private bool $nativeSeen = false;
    private bool $nativeOpenLine = false;

    public function __construct(public string $id, private bool $inMemory = false, private bool $createEmpty = true)
    {
    }

    // The logs directory is not made per call: only when opening fails (it is missing).
    private function open(string $stream)
    {
        $file = CONFIG['logsDir'] . '/' . $this->id . '_' . ($stream === 'log' ? 'logs' : 'errors') . '.log';
        $handle = @fopen($file, 'a');
        if ($handle === false) {
            @mkdir(CONFIG['logsDir'], 0777, true);
            $handle = @fopen($file, 'a');
        }
        return $this->files[$stream] = $handle;
    }

    public function write(string $stream, string $text): void
    {
        $room = $this->room[$stream];
        if ($room <= 0) {
            return;
        }
        if (strlen($text) > $room) {
            $text = substr($text, 0, $room);
        }
        $this->room[$stream] = $room - strlen($text);
        if ($this->inMemory) {
            $this->memory[$stream] .= $text;
        } elseif ($this->id !== '') {
            $handle = $this->files[$stream] ?? $this->open($stream);
            if ($handle !== false) {
                @fwrite($handle, $text); // a full disk must not fail the execution
            }
        }
    }

    public function message(string $stream, array $messages): void
    {
        $this->endNativeLine();
        $this->write($stream, format_messages($messages) . "\n");
    }

    // Raw echo/print output, as it is produced; the notice precedes the first chunk of a call.
    public function native(string $chunk): void
    {
        if ($chunk === '') {
            return;
        }
        if (!$this->nativeSeen && !$this->inMemory) {
            $this->write('log', NATIVE_NOTICE . "\n");
        }
        $this->nativeSeen = true;
        $this->write('log', $chunk);
        $this->nativeOpenLine = !str_ends_with($chunk, "\n");
    }

    public function endNativeLine(): void
    {
        if ($this->nativeOpenLine) {
            $this->nativeOpenLine = false;
            $this->write('log', "\n");
        }
    }

    public function close(): void
    {
        $this->endNativeLine();
        if ($this->createEmpty && $this->id !== '' && !$this->inMemory) {
            foreach (['log', 'error'] as $stream) {
                if (!array_key_exists($stream, $this->files)) {
                    $this->open($stream);
                }
            }
        }
        foreach ($this->files as $handle) {
            if ($handle !== false) {
                @fclose($handle);
            }
        }
        $this->files = [];
        $this->createEmpty = false;
    }
}

// echo/print inside a call go through an output buffer into the call's logger, in chunks so a
// flood of output never sits in memory.
final class NativeCapture
{
    private static ?Logger $logger = null;
    private static int $level = 0;

    public static function start(Logger $logger): void
    {
        self::$logger = $logger;
        ob_start(static function (string $chunk): string {
            self::$logger?->native($chunk);
            return '';
        }, 65536);
        self::$level = ob_get_level();
    }

    public static function stop(): void
    {
        if (self::$logger === null) {
            return;
        }
        while (ob_get_level() >= self::$level && ob_get_level() > 0) {
            ob_end_flush();
        }
        self::$logger->endNativeLine();
        self::$logger = null;
    }
}

// ---------------------------------------------------------------- request / context

function split_host(string $hostHeader, string $scheme): array
{
    $defaultPort = $scheme === 'https' ? 443 : 80;
    if (str_starts_with($hostHeader, '[')) { // [v6]:port
        $end = strpos($hostHeader, ']');
        $host = $end === false ? $hostHeader : substr($hostHeader, 0, $end + 1);
        $rest = $end === false ? '' : substr($hostHeader, $end + 1);
        $port = str_starts_with($rest, ':') ? (int) substr($rest, 1) : $defaultPort;
        return [$host, $port, $defaultPort];
    }
    $parts = explode(':', $hostHeader, 2);
    return [$parts[0], isset($parts[1]) ? (int) $parts[1] : $defaultPort, $defaultPort];
}

function parse_query(string $queryString): array
{
    $query = [];
    foreach (explode('&', $queryString) as $param) {
        $pair = explode('=', $param, 2);
        if ($pair[0] !== '') {
            $query[$pair[0]] = $pair[1] ?? '';
        }
    }
    return $query;
}

// Headers the function sees: lower-cased, x-open-runtimes-* removed, then the enforced overlay.
function function_headers(array $headers): array
{
    $out = [];
    foreach ($headers as $key => $value) {
        if (!str_starts_with($key, 'x-open-runtimes-')) {
            $out[$key] = $value;
        }
    }
    return array_merge($out, CONFIG['headers']);
}

// Everything the worker needs to build `$context->req`, computed once here.
function request_fields(array $http): array
{
    $target = $http['target'];
    if (preg_match('#^https?://[^/]*(/.*)?$#i', $target, $m)) { // absolute-form target
        $target = $m[1] ?? '/';
    }
    $hash = strpos($target, '#');
    if ($hash !== false) {
        $target = substr($target, 0, $hash);
    }
    $q = strpos($target, '?');
    $path = $q === false ? $target : substr($target, 0, $q);
    $queryString = $q === false ? '' : substr($target, $q + 1);
    $scheme = $http['headers']['x-forwarded-proto'] ?? 'http';
    [$host, $port, $defaultPort] = split_host($http['headers']['host'] ?? '', $scheme);
    $url = $scheme . '://' . $host . ($port !== $defaultPort ? ':' . $port : '') . $path
        . ($queryString !== '' ? '?' . $queryString : '');
    return [
        'method' => $http['method'], 'scheme' => $scheme, 'host' => $host, 'port' => $port,
        'path' => $path === '' ? '/' : $path, 'queryString' => $queryString,
        'query' => parse_query($queryString), 'url' => $url,
        'headers' => function_headers($http['headers']), 'bodyBinary' => $http['body'],
    ];
}

final class RuntimeRequest
{
    public string $bodyBinary = '';
    public array $headers = [];
    public string $method = '';
    public string $url = '';
    public string $path = '/';
    public int $port = 80;
    public string $host = '';
    public string $scheme = 'http';
    public string $queryString = '';
    public array $query = [];

    public function __construct(array $fields)
    {
        foreach ($fields as $key => $value) {
            $this->$key = $value;
        }
    }

    public function __get(string $name): mixed
    {
        return match ($name) {
            'bodyText', 'bodyRaw' => $this->bodyBinary,
            'bodyJson' => json_decode($this->bodyBinary, true, 512, JSON_THROW_ON_ERROR),
            'body' => $this->body(),
            default => '',
        };
    }

    private function body(): mixed
    {
        $type = strtolower($this->headers['content-type'] ?? 'text/plain');
        if (str_starts_with($type, 'application/json')) {
            return $this->bodyBinary === '' ? [] : $this->__get('bodyJson');
        }
        return $this->bodyBinary;
    }
}

final class RuntimeContext
{
    public RuntimeResponse $res;

    public function __construct(public RuntimeRequest $req, private Logger $logger)
    {
        $this->res = new RuntimeResponse();
    }

    public function log(mixed ...$messages): void
    {
        $this->logger->message('log', $messages);
    }

    public function error(mixed ...$messages): void
    {
        $this->logger->message('error', $messages);
    }
}

// The environment plus the per-execution variables of the v2 era, taken from the request because
// a warm process's environment cannot change per call (runtimes/README.md).
function legacy_variables(string $payload, array $headers): array
{
    $event = $headers['x-appwrite-event'] ?? '';
    return array_merge(getenv(), [
        'APPWRITE_FUNCTION_TRIGGER' => $headers['x-appwrite-trigger'] ?? '',
        'APPWRITE_FUNCTION_EVENT' => $event,
        'APPWRITE_FUNCTION_EVENT_DATA' => $event !== '' ? $payload : '',
        'APPWRITE_FUNCTION_DATA' => $payload,
        'APPWRITE_FUNCTION_USER_ID' => $headers['x-appwrite-user-id'] ?? '',
        'APPWRITE_FUNCTION_JWT' => $headers['x-appwrite-user-jwt'] ?? '',
    ]);
}

// Legacy `$req` is an array: payload, variables, headers.
function legacy_request(string $payload, array $variables, array $headers): array
{
    return ['payload' => $payload, 'variables' => $variables, 'headers' => $headers];
}

// Legacy `$res`: the last send/json call wins; no call means 200 with an empty body.
final class LegacyResponse
{
    public mixed $body = '';
    public int $status = 200;
    public bool $isJson = false;

    public function send(mixed $text, int $status = 200): self
    {
        [$this->body, $this->status, $this->isJson] = [stringify($text), $status, false];
        return $this;
    }

    public function json(mixed $data, int $status = 200): self
    {
        [$this->body, $this->status, $this->isJson] = [$data, $status, true];
        return $this;
    }
}

// ---------------------------------------------------------------- response

// Helpers return plain values; only the one the function returns is sent.
final class RuntimeResponse
{
    public function binary(string $bytes, int $statusCode = 200, array $headers = []): array
    {
        return ['body' => $bytes, 'statusCode' => $statusCode, 'headers' => $headers];
    }

    public function text(mixed $body, int $statusCode = 200, array $headers = []): array
    {
        return $this->binary(stringify($body), $statusCode, $headers);
    }

    public function send(mixed $body, int $statusCode = 200, array $headers = []): array
    {
        return $this->text($body, $statusCode, $headers);
    }

    public function json(mixed $obj, int $statusCode = 200, array $headers = []): array
    {
        $headers['content-type'] = 'application/json';
        // Like the official JSON_FORCE_OBJECT, a top-level PHP list (or []) is sent as an object,
        // but nested lists stay JSON arrays so decoded JSON bodies round-trip.
        if (is_array($obj) && array_keys($obj) === array_keys(array_values($obj))) {
            $obj = (object) $obj;
        }
        return $this->text(json_encode($obj, JSON_THROW_ON_ERROR), $statusCode, $headers);
    }

    public function empty(): array
    {
        return $this->text('', 204, []);
    }

    public function redirect(string $url, int $statusCode = 301, array $headers = []): array
    {
        $headers['location'] = $url;
        return $this->text('', $statusCode, $headers);
    }
}

function content_type(mixed $value): string
{
    $type = ($value === null || $value === '') ? 'text/plain' : (string) $value;
    $semi = strpos($type, ';');
    $mime = strtolower(trim($semi === false ? $type : substr($type, 0, $semi)));
    $type = $mime . ($semi === false ? '' : substr($type, $semi));
    if (!str_starts_with($mime, 'multipart/') && stripos($type, 'charset=') === false) {
        $type .= '; charset=utf-8';
    }
    return $type;
}

// Function headers as sent: keys lower-cased, x-open-runtimes-* dropped, content-type completed.
function output_headers(array $raw, string $logId): array
{
    $headers = [];
    foreach ($raw as $key => $value) {
        $key = strtolower(trim((string) $key));
        if (str_starts_with($key, 'x-open-runtimes-') || in_array($key, ['content-length', 'connection', 'transfer-encoding'], true)) {
            continue;
        }
        $headers[$key] = is_array($value) ? array_map('stringify', array_values($value)) : stringify($value);
    }
    $type = $headers['content-type'] ?? null;
    $headers['content-type'] = content_type(is_array($type) ? end($type) : $type);
    $headers['x-open-runtimes-log-id'] = $logId;
    return $headers;
}

// ---------------------------------------------------------------- loader

final class LoadError extends \Exception
{
}

// Returns [handler, isLegacy]. The entry file is included once per worker, and a failed load is
// remembered too: including it again would redeclare its functions, a fatal error.
function load_handler(): array
{
    static $cached = null;
    if ($cached === null) {
        $file = CONFIG['codeDir'] . '/' . CONFIG['entrypoint'];
        if (!is_file($file)) { // nothing was included: the next call may look again
            throw new LoadError('Failed to load entrypoint, file ' . CONFIG['entrypoint'] . ' does not exist.');
        }
        try {
            $cached = include_handler($file);
        } catch (LoadError $e) {
            $cached = $e;
        }
    }
    if ($cached instanceof LoadError) {
        throw $cached;
    }
    return $cached;
}

function include_handler(string $file): array
{
    try {
        $autoload = CONFIG['codeDir'] . '/vendor/autoload.php';
        if (is_file($autoload)) {
            require_once $autoload;
        }
        $handler = (static fn (string $path) => include $path)($file);
    } catch (\ParseError $e) {
        throw new LoadError('Syntax error in ' . $e->getFile() . ':' . $e->getLine() . ': ' . $e->getMessage());
    } catch (\Throwable $e) {
        throw new LoadError('Failed to load module: ' . error_text($e));
    }
    if (!is_callable($handler)) {
        throw new LoadError("Function signature invalid. Did you forget to export a 'main' function?");
    }
    $params = (new \ReflectionFunction(\Closure::fromCallable($handler)))->getNumberOfParameters();
    return [$handler, $params >= 2];
}

// Runs one call in the current process: load, call, shape the result. Job and result are plain
// arrays so they can cross the worker pipe.
function run_job(array $job): array
{
    $v2 = $job['wire'] === 'v2';
    $logger = new Logger($job['logId'], $v2);
    Worker::$current = ['logger' => $logger, 'phase' => 'load', 'v2' => $v2];
    $finish = static function (int $status, array $fields) use ($logger, $v2): array {
        NativeCapture::stop();
        $logger->close();
        Worker::$current = null;
        return $fields + ($v2 ? ['statusCode' => $status, 'stdout' => $logger->memory['log'], 'stderr' => $logger->memory['error']]
            : ['statusCode' => $status, 'headers' => [], 'body' => '']);
    };

    NativeCapture::start($logger);
    try {
        [$handler, $isLegacy] = load_handler();
    } catch (LoadError $e) {
        $logger->message('error', [$e->getMessage()]);
        return $finish($v2 ? 500 : 503, []);
    }
    Worker::$current['phase'] = 'call';
    error_clear_last();
    try {
        if ($isLegacy) {
            $res = new LegacyResponse();
            $handler($v2 ? legacy_request($job['payload'], $job['variables'], $job['headers'])
                : legacy_request($job['request']['bodyBinary'],
                    legacy_variables($job['request']['bodyBinary'], $job['request']['headers']),
                    $job['request']['headers']), $res);
            if ($v2) {
                return $finish($res->status, ['response' => $res->body]);
            }
            $out = $res->isJson ? (new RuntimeResponse())->json($res->body, $res->status)
                : (new RuntimeResponse())->text($res->body, $res->status);
        } else {
            $fields = $v2 ? ['method' => 'POST', 'headers' => $job['headers'], 'bodyBinary' => $job['payload']] : $job['request'];
            $out = $handler(new RuntimeContext(new RuntimeRequest($fields), $logger));
            if (!is_array($out)) {
                $logger->message('error', ['Return statement missing. return $context->res->empty() if no response is expected.']);
                return $finish(500, []);
            }
            if ($v2) {
                return $finish((int) ($out['statusCode'] ?? 200), ['response' => stringify($out['body'] ?? '')]);
            }
        }
        return $finish((int) ($out['statusCode'] ?? 200), [
            'headers' => is_array($out['headers'] ?? null) ? $out['headers'] : [],
            'body' => stringify($out['body'] ?? ''),
        ]);
    } catch (\Throwable $e) {
        $logger->message('error', [error_text($e)]);
        return $finish(500, []);
    }
}

// ---------------------------------------------------------------- server

const MAX_WORKERS = 16; // forked lazily, only while every existing worker is busy

// A forked process that loads the function and runs calls sent over a socket pair, one at a time.
final class Worker
{
    /** @var Worker[] */
    public static array $all = [];
    public static ?array $current = null; // in the worker: the call in progress, for onShutdown
    private static $parentChannel = null;

    public ?array $call = null; // in the server: ['conn' => id, 'finish' => Closure, 'deadline' => ?float]
    private string $buffer = '';

    private function __construct(public int $pid, public $channel)
    {
    }

    public static function available(): bool
    {
        return function_exists('pcntl_fork') && function_exists('posix_kill');
    }

    public static function idle(): ?self
    {
        foreach (self::$all as $worker) {
            if ($worker->call === null) {
                return $worker;
            }
        }
        return null;
    }

    // $inherited: every socket of the server, closed in the child so that closing a client or a
    // channel in the server really closes it.
    public static function spawn(array $inherited): self
    {
        $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $pid = pcntl_fork();
        if ($pid === -1) {
            throw new \RuntimeException('fork failed');
        }
        if ($pid === 0) {
            fclose($pair[0]);
            foreach ($inherited as $socket) {
                @fclose($socket);
            }
            self::$all = [];
            foreach ([SIGTERM, SIGINT, SIGHUP] as $signal) {
                pcntl_signal($signal, SIG_DFL);
            }
            self::serve($pair[1]);
            exit(0);
        }
        fclose($pair[1]);
        stream_set_read_buffer($pair[0], 0);
        return self::$all[$pid] = new self($pid, $pair[0]);
    }

    private static function serve($channel): void
    {
        self::$parentChannel = $channel;
        stream_set_read_buffer($channel, 0);
        ini_set('display_errors', 'stderr');
        register_shutdown_function([self::class, 'onShutdown']);
        while (($job = read_frame($channel)) !== null) {
            write_frame($channel, run_job($job));
        }
    }

    // A fatal error (memory limit, compile error) still answers the call, then the worker ends;
    // exit() does not answer, and the server mirrors it.
    public static function onShutdown(): void
    {
        $call = self::$current;
        if ($call === null) {
            return;
        }
        NativeCapture::stop();
        $error = error_get_last();
        $fatal = E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_RECOVERABLE_ERROR;
        if ($error === null || !($error['type'] & $fatal)) {
            $call['logger']->close();
            return;
        }
        $text = $error['message'] . "\nAt " . $error['file'] . ':' . $error['line'];
        $call['logger']->message('error', [$call['phase'] === 'load' ? 'Failed to load module: ' . $text : $text]);
        $call['logger']->close();
        $status = $call['phase'] === 'load' && !$call['v2'] ? 503 : 500;
        $result = $call['v2'] ? ['statusCode' => $status, 'stdout' => $call['logger']->memory['log'], 'stderr' => $call['logger']->memory['error']]
            : ['statusCode' => $status, 'headers' => [], 'body' => ''];
        write_frame(self::$parentChannel, $result + ['dying' => true]);
    }

    // Reads what is available: a whole result, null (not yet), or false (the worker is gone).
    public function receive(): array|null|false
    {
        $chunk = @fread($this->channel, 1048576);
        if ($chunk === false || ($chunk === '' && feof($this->channel))) {
            return false;
        }
        $this->buffer .= $chunk;
        if (strlen($this->buffer) < 8) {
            return null;
        }
        $length = unpack('J', substr($this->buffer, 0, 8))[1];
        if (strlen($this->buffer) < 8 + $length) {
            return null;
        }
        $result = unserialize(substr($this->buffer, 8, $length), ['allowed_classes' => false]);
        $this->buffer = (string) substr($this->buffer, 8 + $length);
        return $result;
    }

    // The exit status, once the process is gone.
    public function reap(bool $kill = false): int
    {
        if ($kill) {
            posix_kill($this->pid, SIGKILL);
        }
        @fclose($this->channel);
        pcntl_waitpid($this->pid, $status);
        unset(self::$all[$this->pid]);
        return pcntl_wifexited($status) ? pcntl_wexitstatus($status) : 128 + pcntl_wtermsig($status);
    }
}

function write_all($socket, string $data): bool
{
    $length = strlen($data);
    for ($sent = 0; $sent < $length; $sent += $n) {
        $n = @fwrite($socket, $sent === 0 ? $data : substr($data, $sent));
        if ($n === false || $n === 0) {
            return false;
        }
    }
    return true;
}

function write_frame($socket, array $value): bool
{
    $payload = serialize($value);
    return write_all($socket, pack('J', strlen($payload)) . $payload);
}

// Blocking read of one frame (worker side); null when the server went away.
function read_frame($socket): ?array
{
    $buffer = '';
    $need = 8;
    foreach ([true, false] as $header) {
        while (strlen($buffer) < $need) {
            $chunk = @fread($socket, max(65536, $need - strlen($buffer)));
            if ($chunk === false || $chunk === '') {
                return null;
            }
            $buffer .= $chunk;
        }
        if ($header) {
            $need = unpack('J', substr($buffer, 0, 8))[1];
            $buffer = (string) substr($buffer, 8);
        }
    }
    return unserialize($buffer, ['allowed_classes' => false]);
}

const REASONS = [100 => 'Continue', 200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content',
    301 => 'Moved Permanently', 302 => 'Found', 304 => 'Not Modified', 307 => 'Temporary Redirect',
    308 => 'Permanent Redirect', 400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
    404 => 'Not Found', 413 => 'Payload Too Large', 418 => "I'm a teapot", 500 => 'Internal Server Error',
    503 => 'Service Unavailable'];

function send_response($socket, array $request, int $status, array $headers, string $body): bool
{
    $head = "HTTP/1.1 {$status} " . (REASONS[$status] ?? 'Status') . "\r\n";
    foreach ($headers as $key => $values) {
        foreach ((array) $values as $value) {
            $head .= $key . ': ' . str_replace(["\r", "\n"], '', (string) $value) . "\r\n";
        }
    }
    $head .= 'content-length: ' . strlen($body) . "\r\n";
    $head .= 'connection: ' . ($request['keepAlive'] ? 'keep-alive' : 'close') . "\r\n\r\n";
    return write_all($socket, $request['method'] === 'HEAD' ? $head : $head . $body);
}

function plain(int $status, string $text): array
{
    return [$status, ['content-type' => 'text/plain; charset=utf-8'], $text];
}

// Returns [job, timeout, finish] for a function call, or an immediate [status, headers, body].
// `finish` turns the worker's result (or 'timeout') into the response.
function handle_v5(array $request): array
{
    $headers = $request['headers'];
    $target = $request['target'];
    $q = strpos($target, '?');
    if ($request['method'] === 'GET' && ($q === false ? $target : substr($target, 0, $q)) === '/__opr/health') {
        return plain(200, 'OK');
    }
    $timeout = 0;
    if (($headers['x-open-runtimes-timeout'] ?? '') !== '') {
        $timeout = ctype_digit($headers['x-open-runtimes-timeout']) ? (int) $headers['x-open-runtimes-timeout'] : 0;
        if ($timeout <= 0) {
            return plain(500, 'Header "x-open-runtimes-timeout" must be an integer greater than 0.');
        }
    }
    if (CONFIG['secret'] !== '' && !hash_equals(CONFIG['secret'], $headers['x-open-runtimes-secret'] ?? '')) {
        return plain(500, 'Unauthorized. Provide correct "x-open-runtimes-secret" header.');
    }
    if ($request['tooLarge']) {
        return plain(413, '');
    }

    $logId = '';
    if (strtolower($headers['x-open-runtimes-logging'] ?? '') !== 'disabled') {
        $logId = ($headers['x-open-runtimes-log-id'] ?? '') ?: (CONFIG['development'] ? 'dev' : new_log_id());
    }
    // Writes only if the call times out: the worker's own logger creates and fills the files.
    $logger = new Logger($logId, false, false);
    $finish = static function (array|string $result) use ($logger, $logId): array {
        if ($result === 'timeout') {
            $logger->message('error', ['Execution timed out.']);
            $result = ['statusCode' => 500, 'headers' => [], 'body' => ''];
        }
        $logger->close();
        $status = $result['statusCode'] >= 100 && $result['statusCode'] <= 999 ? $result['statusCode'] : 500;
        return [$status, output_headers($result['headers'], $logId), $result['body']];
    };
    return [['wire' => 'v5', 'logId' => $logId, 'request' => request_fields($request)], $timeout, $finish];
}

function handle_v2(array $request): array
{
    $reply = static fn (int $status, array $fields) => [$status >= 100 && $status <= 999 ? $status : 500,
        ['content-type' => 'application/json'],
        json_encode($fields, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR) ?: '{}'];
    if (($request['headers']['x-internal-challenge'] ?? '') !== CONFIG['v2Key']) {
        return $reply(500, ['stderr' => 'Unauthorized']);
    }
    $data = json_decode($request['body'], true);
    $data = is_array($data) ? $data : [];
    $payload = $data['payload'] ?? '';
    $job = ['wire' => 'v2', 'logId' => '', 'payload' => is_string($payload) ? $payload : json_encode($payload),
        'variables' => is_array($data['variables'] ?? null) ? $data['variables'] : [],
        'headers' => is_array($data['headers'] ?? null) ? $data['headers'] : []];
    // Appwrite 1.0–1.3 put the function timeout in the body.
    $timeout = is_int($data['timeout'] ?? null) && $data['timeout'] > 0 ? $data['timeout'] : 0;
    $finish = static function (array|string $result) use ($reply): array {
        if ($result === 'timeout') {
            return $reply(500, ['stdout' => '', 'stderr' => 'Execution timed out.']);
        }
        $status = $result['statusCode'];
        unset($result['statusCode']);
        return $reply($status, $result);
    };
    return [$job, $timeout, $finish];
}

function parse_request(array &$conn): array|null|false
{
    if ($conn['head'] === null) {
        $end = strpos($conn['buffer'], "\r\n\r\n");
        if ($end === false) {
            return strlen($conn['buffer']) > 65536 ? false : null;
        }
        $lines = explode("\r\n", substr($conn['buffer'], 0, $end));
        $conn['buffer'] = substr($conn['buffer'], $end + 4);
        $parts = explode(' ', array_shift($lines));
        if (count($parts) !== 3) {
            return false;
        }
        $headers = [];
        foreach ($lines as $line) {
            $colon = strpos($line, ':');
            if ($colon === false) {
                continue;
            }
            $key = strtolower(trim(substr($line, 0, $colon)));
            $value = trim(substr($line, $colon + 1));
            $headers[$key] = isset($headers[$key]) ? $headers[$key] . ($key === 'cookie' ? '; ' : ', ') . $value : $value;
        }
        $connection = strtolower($headers['connection'] ?? '');
        $keepAlive = $parts[2] === 'HTTP/1.1' ? !str_contains($connection, 'close') : str_contains($connection, 'keep-alive');
        $chunked = str_contains(strtolower($headers['transfer-encoding'] ?? ''), 'chunked');
        $length = $chunked ? 0 : (int) ($headers['content-length'] ?? 0);
        $conn['head'] = ['method' => strtoupper($parts[0]), 'target' => $parts[1], 'headers' => $headers,
            'keepAlive' => $keepAlive, 'chunked' => $chunked, 'length' => $length,
            'tooLarge' => $length > CONFIG['maxBodyBytes'], 'body' => ''];
        $conn['discarded'] = 0;
        if (strtolower($headers['expect'] ?? '') === '100-continue') {
            write_all($conn['socket'], "HTTP/1.1 100 Continue\r\n\r\n");
        }
    }
    $head = &$conn['head'];
    if ($head['chunked']) {
        while (true) { // consume whole chunks from the buffer
            $eol = strpos($conn['buffer'], "\r\n");
            if ($eol === false) {
                return null;
            }
            $size = hexdec(trim(explode(';', substr($conn['buffer'], 0, $eol))[0]));
            if ($size === 0) {
                $trailerEnd = strpos($conn['buffer'], "\r\n\r\n", $eol - 2 >= 0 ? $eol - 2 : 0);
                if ($trailerEnd === false) {
                    return null;
                }
                $conn['buffer'] = substr($conn['buffer'], $trailerEnd + 4);
                break;
            }
            if (strlen($conn['buffer']) < $eol + 2 + $size + 2) {
                return null;
            }
            $head['body'] .= substr($conn['buffer'], $eol + 2, (int) $size);
            $conn['buffer'] = substr($conn['buffer'], $eol + 2 + (int) $size + 2);
            if (strlen($head['body']) > CONFIG['maxBodyBytes']) {
                [$head['tooLarge'], $head['keepAlive'], $head['body']] = [true, false, ''];
                $conn['buffer'] = '';
                break;
            }
        }
    } elseif ($head['tooLarge']) {
        $take = min(strlen($conn['buffer']), $head['length'] - $conn['discarded']);
        $conn['discarded'] += $take;
        $conn['buffer'] = substr($conn['buffer'], $take);
        if ($conn['discarded'] < $head['length']) {
            return null;
        }
    } else {
        if (strlen($conn['buffer']) < $head['length']) {
            return null;
        }
        $head['body'] = substr($conn['buffer'], 0, $head['length']);
        $conn['buffer'] = substr($conn['buffer'], $head['length']);
    }
    $request = $head;
    unset($head);
    $conn['head'] = null;
    return $request;
}


// The event loop: accepts connections, parses requests, hands calls to idle workers (or queues
// them), and answers when a worker replies or its deadline passes. One call per connection at a
// time; pipelined requests wait in the connection's buffer.
final class Server
{
    private static $listen = null;
    private static array $conns = [];
    private static array $queue = [];

    public static function run(): void
    {
        $host = CONFIG['host'];
        $address = 'tcp://' . (str_contains($host, ':') ? "[{$host}]" : $host) . ':' . CONFIG['port'];
        self::$listen = @stream_socket_server($address, $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN,
            stream_context_create(['socket' => ['backlog' => 128]]));
        if (self::$listen === false) {
            fwrite(STDERR, "Cannot listen on {$address}: {$errstr}\n");
            exit(1);
        }
        if (function_exists('pcntl_async_signals')) {
            pcntl_async_signals(true);
            foreach ([SIGTERM, SIGINT, SIGHUP] as $signal) {
                pcntl_signal($signal, static function () {
                    foreach (Worker::$all as $worker) {
                        posix_kill($worker->pid, SIGKILL);
                    }
                    exit(0);
                });
            }
        }
        echo "HTTP server successfully started!\n";
        while (true) {
            self::tick();
        }
    }

    private static function tick(): void
    {
        $read = [self::$listen];
        foreach (self::$conns as $conn) {
            if ($conn['current'] === null) {
                $read[] = $conn['socket'];
            }
        }
        $deadline = null;
        foreach (Worker::$all as $worker) {
            $read[] = $worker->channel;
            if ($worker->call !== null && $worker->call['deadline'] !== null) {
                $deadline = min($deadline ?? INF, $worker->call['deadline']);
            }
        }
        $wait = $deadline === null ? null : max(0.0, $deadline - microtime(true));
        $none = null;
        $ready = $wait === null ? @stream_select($read, $none, $none, null)
            : @stream_select($read, $none, $none, (int) $wait, (int) (fmod($wait, 1) * 1e6));
        if ($ready === false) {
            $read = []; // interrupted by a signal
        }
        foreach ($read as $socket) {
            if ($socket === self::$listen) {
                self::accept();
            } elseif (($worker = self::workerFor($socket)) !== null) {
                self::fromWorker($worker);
            } else {
                self::fromClient((int) $socket);
            }
        }
        $now = microtime(true);
        foreach (Worker::$all as $worker) {
            if ($worker->call !== null && $worker->call['deadline'] !== null && $worker->call['deadline'] <= $now) {
                $call = $worker->call;
                $worker->reap(true); // the only way to stop PHP code that does not want to stop
                self::complete($call['conn'], ($call['finish'])('timeout'));
            }
        }
        self::drainQueue();
    }

    private static function accept(): void
    {
        $client = @stream_socket_accept(self::$listen, 0);
        if ($client !== false) {
            stream_set_read_buffer($client, 0);
            self::$conns[(int) $client] = ['socket' => $client, 'buffer' => '', 'head' => null, 'current' => null];
        }
    }

    private static function workerFor($socket): ?Worker
    {
        foreach (Worker::$all as $worker) {
            if ($worker->channel === $socket) {
                return $worker;
            }
        }
        return null;
    }

    private static function fromClient(int $id): void
    {
        $chunk = @fread(self::$conns[$id]['socket'], 1048576);
        if ($chunk === false || ($chunk === '' && feof(self::$conns[$id]['socket']))) {
            self::close($id);
            return;
        }
        self::$conns[$id]['buffer'] .= $chunk;
        self::process($id);
    }

    private static function fromWorker(Worker $worker): void
    {
        $result = $worker->receive();
        if ($result === null) {
            return;
        }
        $call = $worker->call;
        if ($result === false) {
            $code = $worker->reap();
            if ($call !== null) {
                fwrite(STDERR, "Function process exited with code {$code} during an execution; stopping the server.\n");
                exit($code);
            }
            return; // an idle worker died: the next call forks a fresh one
        }
        $worker->call = null;
        if (!empty($result['dying'])) {
            unset($result['dying']);
            $worker->reap();
        }
        if ($call !== null) {
            self::complete($call['conn'], ($call['finish'])($result));
        }
    }

    // Handles the requests waiting in a connection's buffer until one goes to a worker.
    private static function process(int $id): void
    {
        while (isset(self::$conns[$id]) && self::$conns[$id]['current'] === null) {
            $request = parse_request(self::$conns[$id]);
            if ($request === null) {
                return;
            }
            if ($request === false) {
                self::close($id);
                return;
            }
            $handled = CONFIG['v2Key'] !== '' ? handle_v2($request) : handle_v5($request);
            unset($request['body']);
            self::$conns[$id]['current'] = $request;
            if (is_int($handled[0])) {
                self::complete($id, $handled);
            } else {
                self::$queue[] = [$id, ...$handled];
                self::drainQueue();
            }
        }
    }

    private static function drainQueue(): void
    {
        while (self::$queue) {
            [$id, $job, $timeout, $finish] = self::$queue[0];
            if (!Worker::available()) {
                array_shift(self::$queue);
                try {
                    $result = run_job($job);
                } finally {
                    NativeCapture::stop();
                }
                self::complete($id, $finish($result));
                continue;
            }
            $worker = Worker::idle();
            if ($worker === null && count(Worker::$all) < MAX_WORKERS) {
                $worker = Worker::spawn(self::sockets());
            }
            if ($worker === null) {
                return;
            }
            array_shift(self::$queue);
            $worker->call = ['conn' => $id, 'finish' => $finish, 'deadline' => $timeout > 0 ? microtime(true) + $timeout : null];
            write_frame($worker->channel, $job); // a failed write shows up as the worker's EOF
        }
    }

    private static function complete(int $id, array $response): void
    {
        if (!isset(self::$conns[$id])) {
            return;
        }
        [$status, $headers, $body] = $response;
        $request = self::$conns[$id]['current'];
        self::$conns[$id]['current'] = null;
        if (!send_response(self::$conns[$id]['socket'], $request, $status, $headers, $body) || !$request['keepAlive']) {
            self::close($id);
            return;
        }
        self::process($id);
    }

    private static function close(int $id): void
    {
        @fclose(self::$conns[$id]['socket']);
        unset(self::$conns[$id]);
    }

    private static function sockets(): array
    {
        $sockets = [self::$listen];
        foreach (self::$conns as $conn) {
            $sockets[] = $conn['socket'];
        }
        foreach (Worker::$all as $worker) {
            $sockets[] = $worker->channel;
        }
        return $sockets;
    }
}

Server::run();
