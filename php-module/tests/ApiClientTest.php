<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use EmaArchiveTests\Support\Fixtures;
use EmaArchiveTests\Support\ModuleLog;
use EmaArchiveTests\Support\StubTransport;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\EmaArchive\ApiClient;
use WHMCS\Module\Server\EmaArchive\ApiException;
use WHMCS\Module\Server\EmaArchive\ErrorMessages;
use WHMCS\Module\Server\EmaArchive\Http\HttpRequest;
use WHMCS\Module\Server\EmaArchive\Http\HttpResponse;
use WHMCS\Module\Server\EmaArchive\Http\TransportException;
use WHMCS\Module\Server\EmaArchive\ModuleLogger;
use WHMCS\Module\Server\EmaArchive\Signer;
use WHMCS\Module\Server\EmaArchive\UserFacingException;

final class ApiClientTest extends TestCase
{
    private StubTransport $transport;

    protected function setUp(): void
    {
        ModuleLog::reset();
        $this->transport = new StubTransport(StubTransport::json(200, ['ok' => true]));
    }

    private function client(array $params = []): ApiClient
    {
        $params += [
            'serverhostname' => 'archive.test',
            'serverport' => '8443',
            'serversecure' => true,
            'serverusername' => Fixtures::KEY_ID,
            'serverpassword' => Fixtures::SECRET,
        ];

        return ApiClient::fromParams($params, $this->transport, ModuleLogger::fromParams($params));
    }

    public function testSendsWellFormedSignedHeaders(): void
    {
        $this->client()->call('suspend_account', ['service_id' => 1001, 'reason' => 'Overdue'], 'suspend_account:' . str_repeat('ab', 16));

        $request = $this->transport->last();
        self::assertSame('POST', $request->method);
        self::assertSame('https://archive.test:8443/whmcs/v1/suspend_account', $request->url);
        self::assertSame('application/json', $request->header('Content-Type'));
        self::assertSame(Fixtures::KEY_ID, $request->header('X-Ema-Key-Id'));
        self::assertMatchesRegularExpression('/^[0-9]{1,12}$/D', (string) $request->header('X-Ema-Timestamp'));
        self::assertEqualsWithDelta(time(), (int) $request->header('X-Ema-Timestamp'), 5);
        self::assertMatchesRegularExpression('/^[0-9a-f]{32}$/D', (string) $request->header('X-Ema-Nonce'));
        self::assertSame('suspend_account:' . str_repeat('ab', 16), $request->header('Idempotency-Key'));
        self::assertSame(hash('sha256', $request->body), $request->header('X-Ema-Content-Sha256'));
        self::assertMatchesRegularExpression('/^v1=[0-9a-f]{64}$/D', (string) $request->header('X-Ema-Signature'));
        self::assertTrue(self::signatureVerifies($request, Fixtures::SECRET));
    }

    public function testSignatureMatchesAnIndependentComputation(): void
    {
        $client = new ApiClient(
            'http://127.0.0.1:8080', 'wk_0123456789ab', Fixtures::SECRET, $this->transport, new ModuleLogger(),
            static fn (): int => 1764763200,
            static fn (): string => '3f6c0a0e6d1b4b7e9a572f2b3c1d9e10',
        );
        $client->call('get_account', ['service_id' => 1001]);

        $body = '{"service_id":1001}';
        $expected = hash_hmac('sha256', implode("\n", [
            'EMA-HMAC-SHA256-V1', 'POST', '/whmcs/v1/get_account', '', '1764763200',
            '3f6c0a0e6d1b4b7e9a572f2b3c1d9e10', 'wk_0123456789ab', '', hash('sha256', $body),
        ]), Fixtures::SECRET);
        $request = $this->transport->last();
        self::assertSame($body, $request->body);
        self::assertSame('v1=' . $expected, $request->header('X-Ema-Signature'));
        self::assertNull($request->header('Idempotency-Key'));
    }

    public function testEmptyBodyIsAnEmptyJsonObjectAndUnicodeIsSentAsUtf8(): void
    {
        $client = $this->client();
        $client->call('usage');
        self::assertSame('{}', $this->transport->last()->body);

        $client->call('create_account', ['name' => 'Zürich Ärchiv — 東京', 'url' => 'a/b']);
        self::assertSame('{"name":"Zürich Ärchiv — 東京","url":"a/b"}', $this->transport->last()->body);
        self::assertTrue(self::signatureVerifies($this->transport->last(), Fixtures::SECRET));
    }

    public function testEveryRequestHasAFreshNonce(): void
    {
        $client = $this->client();
        $client->call('usage');
        $client->call('usage');
        self::assertNotSame($this->transport->requests[0]->header('X-Ema-Nonce'), $this->transport->requests[1]->header('X-Ema-Nonce'));
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function serverFields(): array
    {
        return [
            'secure with port' => [['serversecure' => true, 'serverport' => '8443'], 'https://archive.test:8443'],
            'secure default port' => [['serversecure' => true, 'serverport' => ''], 'https://archive.test'],
            'secure port 443' => [['serversecure' => 'on', 'serverport' => 443], 'https://archive.test'],
            'plain with port' => [['serversecure' => false, 'serverport' => '9000'], 'http://archive.test:9000'],
            'plain default port' => [['serversecure' => '', 'serverport' => ''], 'http://archive.test:8080'],
            'plain port 80' => [['serversecure' => false, 'serverport' => '80'], 'http://archive.test'],
            'ip when no hostname' => [['serverhostname' => '', 'serverip' => '10.0.0.5', 'serverport' => '8080', 'serversecure' => false], 'http://10.0.0.5:8080'],
            'ipv6' => [['serverhostname' => '::1', 'serverport' => '8080', 'serversecure' => false], 'http://[::1]:8080'],
            'scheme and slash typed into the hostname' => [['serverhostname' => 'https://archive.test/', 'serverport' => '', 'serversecure' => true], 'https://archive.test'],
        ];
    }

    /** @dataProvider serverFields */
    public function testBaseUrlComesFromTheServerFields(array $fields, string $expected): void
    {
        $fields += ['serverhostname' => 'archive.test'];
        self::assertSame($expected, ApiClient::baseUrlFromParams($fields));
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function badServerFields(): array
    {
        return [
            'no host' => [['serverhostname' => '', 'serverip' => ''], 'no hostname'],
            'path in hostname' => [['serverhostname' => 'archive.test/ema'], 'not valid'],
            'port text' => [['serverport' => 'eighty'], 'port "eighty" is not valid'],
            'port too big' => [['serverport' => '70000'], 'port "70000" is not valid'],
            'key id missing' => [['serverusername' => ''], 'Username must be the ema-bridge key id'],
            'key id malformed' => [['serverusername' => 'WK 1'], 'Username must be the ema-bridge key id'],
            'secret missing' => [['serverpassword' => ''], 'Password must be the ema-bridge signing secret'],
        ];
    }

    /** @dataProvider badServerFields */
    public function testBadServerFieldsGiveASentence(array $fields, string $expected): void
    {
        try {
            $this->client($fields);
            self::fail('expected a UserFacingException');
        } catch (UserFacingException $e) {
            self::assertStringContainsString($expected, $e->getMessage());
            self::assertSame([], $this->transport->requests);
        }
    }

    public function testProblemDocumentBecomesApiException(): void
    {
        $this->transport->queue(StubTransport::problem(409, 'slug_taken', 'The slug "acme" is already used by another tenant.', 'a1b2c3'));
        try {
            $this->client()->call('create_account', ['slug' => 'acme']);
            self::fail('expected an ApiException');
        } catch (ApiException $e) {
            self::assertSame(409, $e->status);
            self::assertSame('slug_taken', $e->problemCode);
            self::assertSame('The slug "acme" is already used by another tenant.', $e->detail);
            self::assertSame('a1b2c3', $e->requestId);
            self::assertTrue($e->isDefinitive());
        }
    }

    public function testRequestIdFallsBackToTheProblemBody(): void
    {
        $this->transport->queue(new HttpResponse(422, ['Content-Type' => 'application/problem+json'], json_encode([
            'status' => 422, 'code' => 'validation_failed', 'detail' => 'max_users must be positive', 'request_id' => 'body-id-9',
        ])));
        try {
            $this->client()->call('change_package', ['service_id' => 1]);
            self::fail('expected an ApiException');
        } catch (ApiException $e) {
            self::assertSame('body-id-9', $e->requestId);
            self::assertSame('The archive rejected the request: max_users must be positive. (request body-id-9)', ErrorMessages::forThrowable($e));
        }
    }

    /** @return array<string, array{0: HttpResponse, 1: string, 2: string}> */
    public static function unusualAnswers(): array
    {
        return [
            '502 html from a proxy' => [
                new HttpResponse(502, ['Content-Type' => 'text/html'], '<html><body><h1>502 Bad Gateway</h1></body></html>'),
                ApiException::SERVER_ERROR,
                'The archive daemon had an internal error (HTTP 502); try again later, retrying is safe.',
            ],
            '200 that is not json' => [
                new HttpResponse(200, ['Content-Type' => 'text/html', 'X-Request-Id' => 'r-77'], '<html>Welcome to nginx!</html>'),
                ApiException::INVALID_RESPONSE,
                'The archive daemon at https://archive.test:8443 sent an answer that is not JSON (HTTP 200); check that this server record points at ema-bridge. (request r-77)',
            ],
            '404 from another web server' => [
                new HttpResponse(404, ['Content-Type' => 'text/plain'], 'Not Found'),
                ApiException::HTTP_ERROR,
                'The server at https://archive.test:8443 answered HTTP 404 instead of the archive daemon; check that this server record points at ema-bridge.',
            ],
            '401 without a body' => [
                new HttpResponse(401, [], ''),
                'unauthorized',
                'The archive daemon refused this server\'s credentials: check that the server\'s Username is the ema-bridge key id and its Password the signing secret, and that the WHMCS server\'s clock is correct.',
            ],
            '500 problem document' => [
                StubTransport::problem(500, 'internal', 'Internal error.', 'r-500'),
                'internal',
                'The archive refused the request: Internal error. (request r-500)',
            ],
        ];
    }

    /** @dataProvider unusualAnswers */
    public function testUnusualAnswersGiveClearMessages(HttpResponse $answer, string $code, string $sentence): void
    {
        $this->transport->queue($answer);
        try {
            $this->client()->call('get_account', ['service_id' => 1]);
            self::fail('expected an ApiException');
        } catch (ApiException $e) {
            self::assertSame($code, $e->problemCode);
            self::assertSame($sentence, ErrorMessages::forThrowable($e));
        }
    }

    public function testTimeoutIsNotDefinitiveAndSaysRetryIsSafe(): void
    {
        $this->transport->queue(new TransportException('Operation timed out after 25001 milliseconds with 0 bytes received', true));
        try {
            $this->client()->call('create_account', ['service_id' => 1]);
            self::fail('expected an ApiException');
        } catch (ApiException $e) {
            self::assertSame(ApiException::TIMEOUT, $e->problemCode);
            self::assertTrue($e->isNoAnswer());
            self::assertFalse($e->isDefinitive());
            self::assertSame(
                'The archive daemon at https://archive.test:8443 did not answer within 25 seconds; the request may still finish, so wait a minute and try again (retrying is safe).',
                ErrorMessages::forThrowable($e),
            );
        }
    }

    public function testConnectionFailureNamesTheUrl(): void
    {
        $this->transport->queue(new TransportException('Could not resolve host: archive.test'));
        try {
            $this->client()->call('test_connection');
            self::fail('expected an ApiException');
        } catch (ApiException $e) {
            self::assertSame(ApiException::UNREACHABLE, $e->problemCode);
            self::assertStringStartsWith(
                'The archive daemon at https://archive.test:8443 could not be reached (Could not resolve host: archive.test)',
                ErrorMessages::forThrowable($e),
            );
        }
    }

    /** @return array<string, array{0: int, 1: string, 2: bool}> */
    public static function definitiveness(): array
    {
        return [
            'no answer' => [0, ApiException::UNREACHABLE, false],
            '400' => [400, 'validation_failed', true],
            '401' => [401, 'unauthorized', true],
            '404' => [404, 'not_found', true],
            '409 slug taken' => [409, 'slug_taken', true],
            '409 in progress' => [409, 'request_in_progress', false],
            '422' => [422, 'slug_invalid', true],
            '429' => [429, 'too_many_requests', false],
            '500' => [500, ApiException::SERVER_ERROR, false],
            '503' => [503, 'unavailable', false],
            '200 unreadable' => [200, ApiException::INVALID_RESPONSE, false],
        ];
    }

    /** @dataProvider definitiveness */
    public function testWhichAnswersAreDefinitive(int $status, string $code, bool $definitive): void
    {
        self::assertSame($definitive, (new ApiException($status, $code, ''))->isDefinitive());
    }

    public function testEveryCallIsLoggedWithoutSecrets(): void
    {
        $this->client(['password' => Fixtures::SERVICE_PASSWORD])->call('change_password', ['service_id' => 1, 'password' => Fixtures::SERVICE_PASSWORD], 'change_password:' . str_repeat('0', 32));

        $log = $GLOBALS['WHMCS_MODULE_LOG'];
        self::assertCount(1, $log);
        self::assertSame('emaarchive', $log[0]['module']);
        self::assertSame('change_password', $log[0]['action']);
        self::assertStringContainsString('/whmcs/v1/change_password', $log[0]['request']);
        self::assertStringContainsString('[X-Ema-Signature] => [redacted]', $log[0]['request']);
        self::assertStringContainsString('[password] => [redacted]', $log[0]['request']);
        self::assertContains(Fixtures::SECRET, $log[0]['raw']['replace_vars']);
        self::assertContains(Fixtures::SERVICE_PASSWORD, $log[0]['raw']['replace_vars']);
        $visible = ModuleLog::visibleText();
        self::assertStringNotContainsString(Fixtures::SECRET, $visible);
        self::assertStringNotContainsString(Fixtures::SERVICE_PASSWORD, $visible);
        self::assertStringNotContainsString((string) $this->transport->last()->header('X-Ema-Signature'), $visible);
    }

    public function testSecretResponseFieldsAreKeptOutOfTheLog(): void
    {
        $url = 'https://acme.archive.example/_ema/sso/one-time-token-123456';
        $this->transport->queue(StubTransport::json(200, ['url' => $url, 'expires_at' => '2026-12-03T10:01:00Z']));
        $response = $this->client()->call('sso', ['service_id' => 1001], null, ['url']);

        self::assertSame($url, $response->data['url']);
        self::assertStringNotContainsString('one-time-token', ModuleLog::visibleText());
    }

    public function testTooLargeBodiesAreRefusedBeforeSending(): void
    {
        $this->expectException(UserFacingException::class);
        try {
            $this->client()->call('create_account', ['name' => str_repeat('x', 70000)]);
        } finally {
            self::assertSame([], $this->transport->requests);
        }
    }

    /** What the daemon does: rebuild the string to sign from the request and check the MAC. */
    private static function signatureVerifies(HttpRequest $request, string $secret): bool
    {
        $path = (string) parse_url($request->url, PHP_URL_PATH);
        $query = (string) (parse_url($request->url, PHP_URL_QUERY) ?? '');
        $toSign = Signer::stringToSign(
            $request->method, $path, $query, (int) $request->header('X-Ema-Timestamp'),
            (string) $request->header('X-Ema-Nonce'), (string) $request->header('X-Ema-Key-Id'),
            (string) ($request->header('Idempotency-Key') ?? ''), hash('sha256', $request->body),
        );

        return Signer::verify($secret, $toSign, (string) $request->header('X-Ema-Signature'));
    }
}
