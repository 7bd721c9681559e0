<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use InvalidArgumentException;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\EmaArchive\Signer;

/** The shared vectors of docs/signing.md, also checked by the daemon's Rust tests. */
final class SignerTest extends TestCase
{
    private const FIELDS = [
        'name', 'secret', 'key_id', 'method', 'path', 'query', 'timestamp', 'nonce',
        'idempotency_key', 'body', 'body_sha256', 'string_to_sign', 'signature',
    ];

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function vectors(): array
    {
        $file = dirname(__DIR__, 2) . '/fixtures/signing/vectors.json';
        $vectors = json_decode((string) file_get_contents($file), true, 16, JSON_THROW_ON_ERROR);
        $cases = [];
        foreach ($vectors as $vector) {
            $cases[(string) $vector['name']] = [$vector];
        }

        return $cases;
    }

    public function testTheVectorFileCoversTheRequiredCases(): void
    {
        $vectors = array_column(self::vectors(), 0);
        self::assertGreaterThanOrEqual(4, count($vectors));
        self::assertContains('', array_column($vectors, 'body'), 'an empty body');
        self::assertNotEmpty(array_filter($vectors, static fn (array $v): bool => $v['query'] !== ''), 'a query string');
        self::assertNotEmpty(array_filter($vectors, static fn (array $v): bool => $v['idempotency_key'] !== ''), 'an idempotency key');
        self::assertNotEmpty(
            array_filter($vectors, static fn (array $v): bool => preg_match('/[^\x00-\x7f]/', $v['body']) === 1),
            'a body with non-ASCII characters',
        );
        self::assertGreaterThan(1, count(array_unique(array_column($vectors, 'key_id'))), 'a second key');
    }

    /** @dataProvider vectors */
    public function testVectorHasExactlyTheDocumentedFields(array $vector): void
    {
        self::assertSame(self::FIELDS, array_keys($vector));
        self::assertIsInt($vector['timestamp']);
        self::assertMatchesRegularExpression('/^whsec_[A-Za-z0-9_-]{43}$/D', $vector['secret']);
    }

    /** @dataProvider vectors */
    public function testBodyHashMatches(array $vector): void
    {
        self::assertSame($vector['body_sha256'], Signer::bodySha256($vector['body']));
    }

    /** @dataProvider vectors */
    public function testStringToSignMatches(array $vector): void
    {
        self::assertSame($vector['string_to_sign'], self::stringToSign($vector));
        self::assertStringEndsNotWith("\n", $vector['string_to_sign']);
        self::assertCount(9, explode("\n", $vector['string_to_sign']));
    }

    /** @dataProvider vectors */
    public function testSignatureMatches(array $vector): void
    {
        self::assertSame($vector['signature'], Signer::sign($vector['secret'], self::stringToSign($vector)));
        self::assertTrue(Signer::verify($vector['secret'], $vector['string_to_sign'], $vector['signature']));
    }

    /** @dataProvider vectors */
    public function testAnyChangeBreaksTheSignature(array $vector): void
    {
        $tampered = $vector;
        $tampered['body'] .= ' ';
        self::assertFalse(Signer::verify($vector['secret'], self::stringToSign($tampered), $vector['signature']));

        $moved = $vector;
        $moved['path'] = '/whmcs/v1/terminate_account';
        self::assertFalse(Signer::verify($vector['secret'], self::stringToSign($moved), $vector['signature']));

        self::assertFalse(Signer::verify($vector['secret'] . 'x', $vector['string_to_sign'], $vector['signature']));
        self::assertFalse(Signer::verify($vector['secret'], $vector['string_to_sign'], strtoupper($vector['signature'])));
        self::assertFalse(Signer::verify($vector['secret'], $vector['string_to_sign'], substr($vector['signature'], 0, -1)));
        self::assertFalse(Signer::verify($vector['secret'], $vector['string_to_sign'], 'v2=' . substr($vector['signature'], 3)));
    }

    public function testTheMethodIsUpperCased(): void
    {
        $upper = Signer::stringToSign('POST', '/whmcs/v1/usage', '', 1, str_repeat('a', 32), 'wk_1', '', Signer::bodySha256(''));
        $lower = Signer::stringToSign('post', '/whmcs/v1/usage', '', 1, str_repeat('a', 32), 'wk_1', '', Signer::bodySha256(''));
        self::assertSame($upper, $lower);
    }

    /** @return array<string, array{0: array<int, mixed>}> */
    public static function fieldsThatCouldInjectALine(): array
    {
        $ok = ['POST', '/whmcs/v1/usage', '', 1764763200, str_repeat('a', 32), 'wk_0123456789ab', '', Signer::bodySha256('')];

        return [
            'newline in the nonce' => [array_replace($ok, [4 => str_repeat('a', 31) . "\n"])],
            'uppercase nonce' => [array_replace($ok, [4 => str_repeat('A', 32)])],
            'newline in the key id' => [array_replace($ok, [5 => "wk_1\n"])],
            'uppercase key id' => [array_replace($ok, [5 => 'WK_1'])],
            'newline in the idempotency key' => [array_replace($ok, [6 => "create_account:1\nx"])],
            'quoted idempotency key' => [array_replace($ok, [6 => '"create_account:1"'])],
            'newline in the path' => [array_replace($ok, [1 => "/whmcs/v1/usage\nx"])],
            'relative path' => [array_replace($ok, [1 => 'whmcs/v1/usage'])],
            'space in the query' => [array_replace($ok, [2 => 'a=b c'])],
            'negative timestamp' => [array_replace($ok, [3 => -1])],
            '13-digit timestamp' => [array_replace($ok, [3 => 1_000_000_000_000])],
            'bad body hash' => [array_replace($ok, [7 => 'xyz'])],
        ];
    }

    /** @dataProvider fieldsThatCouldInjectALine */
    public function testInvalidFieldsAreRefused(array $arguments): void
    {
        $this->expectException(InvalidArgumentException::class);
        Signer::stringToSign(...$arguments);
    }

    public function testNoncesAre32LowercaseHexAndUnique(): void
    {
        $a = Signer::newNonce();
        self::assertMatchesRegularExpression('/^[0-9a-f]{32}$/D', $a);
        self::assertNotSame($a, Signer::newNonce());
    }

    private static function stringToSign(array $v): string
    {
        return Signer::stringToSign(
            $v['method'], $v['path'], $v['query'], $v['timestamp'], $v['nonce'], $v['key_id'], $v['idempotency_key'],
            Signer::bodySha256($v['body']),
        );
    }
}
