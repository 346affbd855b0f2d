using System.Buffers;
using System.Buffers.Binary;

namespace Subscriptions.Api.Admin;

/// <summary>
/// The rows of a <c>COPY (...) TO STDOUT (FORMAT binary)</c>, read from Npgsql's raw COPY stream in
/// batches, each field a slice of one pooled buffer: no string or object per field. Npgsql's typed
/// exporter (<c>BeginBinaryExport</c>) makes a string or array of every field it reads; an export
/// only copies the bytes on. The format is PostgreSQL's documented one ("Binary Format" under
/// COPY): a header, then per row a 16-bit field count and per field a 32-bit length (-1 = NULL)
/// and its bytes, all big-endian, then a count of -1. Text arrives as UTF-8 (the connection's
/// client encoding). A batch stays valid until the next <see cref="ReadBatchAsync"/>.
/// </summary>
public sealed class BinaryCopyRows(Stream copy, int columns) : IDisposable
{
    static ReadOnlySpan<byte> Signature => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];

    // Npgsql's stream hands over one row (one CopyData message) a read; rows are gathered until
    // this much is buffered, so that a batch holds some hundred rows and their links are made together.
    const int BatchBytes = 64 * 1024;

    byte[] _buffer = ArrayPool<byte>.Shared.Rent(2 * BatchBytes);
    int _start, _end;
    bool _headerRead, _trailerRead, _endOfStream;
    int[] _offsets = new int[256 * columns];
    int[] _lengths = new int[256 * columns];

    /// <summary>Rows in the current batch.</summary>
    public int Count { get; private set; }

    /// <summary>Reads the next batch of whole rows; false at the end of the COPY.</summary>
    public async ValueTask<bool> ReadBatchAsync(CancellationToken cancellationToken)
    {
        Count = 0;
        while (true)
        {
            if (_end - _start >= BatchBytes || _endOfStream)
            {
                Parse();
                if (Count > 0)
                {
                    return true;
                }

                if (_endOfStream)
                {
                    return _trailerRead ? false : throw new InvalidDataException("The COPY ended inside a row.");
                }
            }

            Compact();
            var read = await copy.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            _endOfStream = read == 0;
            _end += read;
        }
    }

    /// <summary>Whether the field is NULL.</summary>
    public bool IsNull(int row, int column) => _lengths[row * columns + column] < 0;

    /// <summary>The field's bytes (empty for NULL).</summary>
    public ReadOnlySpan<byte> Field(int row, int column)
    {
        var i = row * columns + column;
        return _lengths[i] < 0 ? default : _buffer.AsSpan(_offsets[i], _lengths[i]);
    }

    /// <summary>A bigint (int8) or timestamptz (microseconds since 2000-01-01 UTC) field.</summary>
    public long Int64(int row, int column)
    {
        var field = Field(row, column);
        return field.Length == sizeof(long) ? BinaryPrimitives.ReadInt64BigEndian(field)
            : throw new InvalidDataException($"Column {column} is not 8 bytes long.");
    }

    void Parse()
    {
        var data = _buffer.AsSpan(_start, _end - _start);
        var position = 0;
        if (!_headerRead)
        {
            // signature, flags, then the length of a header extension to skip
            var fixedLength = Signature.Length + 8;
            if (data.Length < fixedLength)
            {
                return;
            }

            if (!data.StartsWith(Signature))
            {
                throw new InvalidDataException("Not a binary COPY stream.");
            }

            var extension = BinaryPrimitives.ReadInt32BigEndian(data[(Signature.Length + 4)..]);
            if (data.Length < fixedLength + extension)
            {
                return;
            }

            position = fixedLength + extension;
            _headerRead = true;
        }

        while (!_trailerRead && TryParseRow(data, ref position))
        {
        }

        _start += position;
    }

    bool TryParseRow(ReadOnlySpan<byte> data, ref int position)
    {
        if (data.Length - position < sizeof(short))
        {
            return false;
        }

        var fields = BinaryPrimitives.ReadInt16BigEndian(data[position..]);
        if (fields == -1)
        {
            _trailerRead = true;
            position += sizeof(short);
            return false;
        }

        if (fields != columns)
        {
            throw new InvalidDataException($"A row of {fields} fields; the export selects {columns}.");
        }

        if ((Count + 1) * columns > _offsets.Length)
        {
            Array.Resize(ref _offsets, 2 * _offsets.Length);
            Array.Resize(ref _lengths, 2 * _lengths.Length);
        }

        var cursor = position + sizeof(short);
        var first = Count * columns;
        for (var column = 0; column < columns; column++)
        {
            if (data.Length - cursor < sizeof(int))
            {
                return false;
            }

            var length = BinaryPrimitives.ReadInt32BigEndian(data[cursor..]);
            cursor += sizeof(int);
            if (length < -1)
            {
                throw new InvalidDataException($"A field of length {length}.");
            }

            if (length > data.Length - cursor)
            {
                return false;
            }

            _offsets[first + column] = _start + cursor;
            _lengths[first + column] = length;
            cursor += Math.Max(length, 0);
        }

        position = cursor;
        Count++;
        return true;
    }

    // Moves the unread bytes to the front; a row longer than the buffer's free space grows it.
    void Compact()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(2 * _buffer.Length);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
