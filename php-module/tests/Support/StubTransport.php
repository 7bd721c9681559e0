<?php

declare(strict_types=1);

namespace EmaArchiveTests\Support;

use WHMCS\Module\Server\EmaArchive\Http\HttpRequest;
use WHMCS\Module\Server\EmaArchive\Http\HttpResponse;
use WHMCS\Module\Server\EmaArchive\Http\Transport;
use WHMCS\Module\Server\EmaArchive\Http\TransportException;

/**
 * Records every request and answers from a queue of canned responses (or exceptions, or
 * closures that receive the request). With an empty queue it answers $fallback.
 */
final class StubTransport implements Transport
{
    /** @var list<HttpRequest> */
    public array $requests = [];

    /** @var list<HttpResponse|TransportException|\Closure> */
    private array $queue = [];

    public function __construct(private HttpResponse|TransportException|\Closure|null $fallback = null)
    {
    }

    public function queue(HttpResponse|TransportException|\Closure ...$answers): self
    {
        foreach ($answers as $answer) {
            $this->queue[] = $answer;
        }

        return $this;
    }

    public function send(HttpRequest $request): HttpResponse
    {
        $this->requests[] = $request;
        $answer = array_shift($this->queue) ?? $this->fallback;
        if ($answer instanceof \Closure) {
            $answer = $answer($request);
        }
        if ($answer instanceof TransportException) {
            throw $answer;
        }
        if (!$answer instanceof HttpResponse) {
            throw new \LogicException('StubTransport: no answer queued for ' . $request->url);
        }

        return $answer;
    }

    public function last(): HttpRequest
    {
        if ($this->requests === []) {
            throw new \LogicException('StubTransport: no request was sent');
        }

        return $this->requests[count($this->requests) - 1];
    }

    /** @return array<string, mixed> the decoded JSON body of the last request */
    public function lastBody(): array
    {
        return json_decode($this->last()->body, true, 64, JSON_THROW_ON_ERROR);
    }

    /** @return list<string> the daemon actions called, in order */
    public function actions(): array
    {
        return array_map(static fn (HttpRequest $r): string => basename((string) parse_url($r->url, PHP_URL_PATH)), $this->requests);
    }

    public static function json(int $status, array $data, string $requestId = 'req-0001'): HttpResponse
    {
        return new HttpResponse(
            $status,
            ['Content-Type' => 'application/json', 'X-Request-Id' => $requestId],
            $data === [] ? '{}' : json_encode($data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR),
        );
    }

    public static function problem(int $status, string $code, string $detail, string $requestId = 'req-0002'): HttpResponse
    {
        return new HttpResponse(
            $status,
            ['Content-Type' => 'application/problem+json', 'X-Request-Id' => $requestId],
            json_encode([
                'type' => 'https://ema-bridge.dev/problems/' . $code,
                'title' => ucfirst(str_replace('_', ' ', $code)),
                'status' => $status,
                'detail' => $detail,
                'code' => $code,
                'request_id' => $requestId,
            ], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR),
        );
    }

    /** @return array<string, mixed> a TenantView as docs/whmcs-channel.md describes it */
    public static function tenant(array $overrides = []): array
    {
        return $overrides + [
            'slug' => 'acme',
            'name' => 'Acme Corp',
            'status' => 'active',
            'url' => 'https://acme.archive.example',
            'service_id' => 1001,
            'plan' => 'standard',
            'max_users' => 25,
            'storage_gb' => 50,
            'sandbox' => false,
            'users' => 3,
            'active_users' => 2,
            'storage_bytes' => 8123456,
            'db_bytes' => 8000000,
            's3_bytes' => 123456,
            'usage_measured_at' => '2026-12-03T10:00:00Z',
            'created_at' => '2026-12-03T09:00:00Z',
            'suspended_at' => null,
            'suspension_reason' => null,
            'deletion_requested' => false,
        ];
    }
}
