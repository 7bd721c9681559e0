<?php

/*
 * Stand-in for WHMCS\Database\Capsule (Laravel's query builder facade in WHMCS), limited to what
 * the module uses, as documented at https://developers.whmcs.com/advanced/db-interaction/ and
 * https://developers.whmcs.com/provisioning-modules/usage-update/ :
 *   Capsule::table('tblhosting')->where('id', $id)->where('server', $serverId)->update([...]);
 *   Capsule::raw('now()');
 * Updates are recorded in Capsule::$updates; Capsule::$failure makes update() throw (Capsule
 * throws on database errors).
 */

declare(strict_types=1);

namespace EmaArchiveTests\Whmcs {
    final class QueryBuilder
    {
        /** @var list<array{0: string, 1: string, 2: mixed}> */
        private array $wheres = [];

        public function __construct(private readonly string $table)
        {
        }

        public function where(string $column, mixed $operator = null, mixed $value = null): self
        {
            if (func_num_args() === 2) {
                $value = $operator;
                $operator = '=';
            }
            $this->wheres[] = [$column, (string) $operator, $value];

            return $this;
        }

        public function update(array $values): int
        {
            if (\WHMCS\Database\Capsule::$failure !== null) {
                throw \WHMCS\Database\Capsule::$failure;
            }
            \WHMCS\Database\Capsule::$updates[] = ['table' => $this->table, 'wheres' => $this->wheres, 'values' => $values];

            return 1;
        }
    }

    /** Like Illuminate\Database\Query\Expression: raw SQL kept as is. */
    final class Expression implements \JsonSerializable
    {
        public function __construct(private readonly string $value)
        {
        }

        public function getValue(): string
        {
            return $this->value;
        }

        public function __toString(): string
        {
            return $this->value;
        }

        public function jsonSerialize(): array
        {
            return ['raw' => $this->value];
        }
    }
}

namespace WHMCS\Database {
    if (!class_exists(Capsule::class)) {
        class Capsule
        {
            /** @var list<array{table: string, wheres: list<array>, values: array}> */
            public static array $updates = [];
            public static ?\Throwable $failure = null;

            public static function table(string $table): \EmaArchiveTests\Whmcs\QueryBuilder
            {
                return new \EmaArchiveTests\Whmcs\QueryBuilder($table);
            }

            public static function raw(string $value): \EmaArchiveTests\Whmcs\Expression
            {
                return new \EmaArchiveTests\Whmcs\Expression($value);
            }

            public static function reset(): void
            {
                self::$updates = [];
                self::$failure = null;
            }
        }
    }
}
