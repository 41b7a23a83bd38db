package conformance

import (
	"fmt"
	"strings"

	"github.com/iox2go/iox2go/examples/gen/robot"
)

// The payload values of the scenarios: functions of a sequence number, the
// same in peer.c, so that a receiver checks every field and the driver
// checks each printed line against the one it expects.

var modes = [3]robot.Mode{robot.ModeIdle, robot.ModeActive, robot.ModeFault}

// fullFrame fills the string to its capacity of 32 bytes.
const fullFrame = "0123456789abcdefghijklmnopqrstuv"

// imuFrame is the frame string of sample seq: "imu<seq>", or every 5th
// sample a string of the full capacity.
func imuFrame(seq uint64) string {
	if seq%5 == 4 {
		return fullFrame
	}
	return fmt.Sprintf("imu%d", seq)
}

// FillImu writes the robot::Imu of sample seq into p, every field.
func FillImu(p *robot.Imu, seq uint64) {
	*p = robot.Imu{}
	p.StampNs = 1_000_000_000 + seq*1000 + 7
	p.Mode = modes[seq%3]
	p.Calibrated = seq%2 == 1
	p.Frame.Set(imuFrame(seq))
	p.Accel = robot.Vec3{X: float64(seq) + 0.5, Y: -float64(seq) - 0.25, Z: 9.75}
	p.Gyro = robot.Vec3{X: 0.125 * float64(seq), Y: -0.5, Z: 2 * float64(seq)}
	for i := range p.Raw {
		for j := range p.Raw[i] {
			p.Raw[i][j] = imuRaw(seq, i, j)
		}
	}
	p.Status = uint8(seq * 13 % 256)
	p.Temperature = 20.5 + float64(seq)
	n := int(seq % 65)
	p.Points.SetLen(n)
	for k := range n {
		*p.Points.At(k) = imuPoint(seq, k)
	}
}

func imuRaw(seq uint64, i, j int) int16 {
	return int16(int64((seq*7+uint64(i*4+j))%30000) - 15000)
}

func imuPoint(seq uint64, k int) robot.Vec3 {
	return robot.Vec3{X: float64(seq) + float64(k), Y: 0.5 * float64(k), Z: -float64(k) - 0.5}
}

// CheckImu compares p with the sample that FillImu(seq) makes, field by
// field, and says what differs.
func CheckImu(p *robot.Imu, seq uint64) error {
	var want robot.Imu
	FillImu(&want, seq)
	var bad []string
	if p.StampNs != want.StampNs {
		bad = append(bad, fmt.Sprintf("stamp_ns %d", p.StampNs))
	}
	if p.Mode != want.Mode {
		bad = append(bad, fmt.Sprintf("mode %v", p.Mode))
	}
	if p.Calibrated != want.Calibrated {
		bad = append(bad, fmt.Sprintf("calibrated %v", p.Calibrated))
	}
	if p.Frame.String() != want.Frame.String() || p.Frame.Len() != want.Frame.Len() {
		bad = append(bad, fmt.Sprintf("frame %q", p.Frame.String()))
	}
	if p.Accel != want.Accel || p.Gyro != want.Gyro {
		bad = append(bad, fmt.Sprintf("accel %v gyro %v", p.Accel, p.Gyro))
	}
	if p.Raw != want.Raw {
		bad = append(bad, fmt.Sprintf("raw %v", p.Raw))
	}
	if p.Status != want.Status || p.Temperature != want.Temperature {
		bad = append(bad, fmt.Sprintf("status %d temperature %v", p.Status, p.Temperature))
	}
	if p.Points.Len() != want.Points.Len() {
		bad = append(bad, fmt.Sprintf("points len %d", p.Points.Len()))
	} else {
		for k, v := range p.Points.Slice() {
			if v != want.Points.Slice()[k] {
				bad = append(bad, fmt.Sprintf("points[%d] %v", k, v))
				break
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("imu sample %d: %s", seq, strings.Join(bad, ", "))
	}
	return nil
}

func f3(v robot.Vec3) string { return fmt.Sprintf("%.3f,%.3f,%.3f", v.X, v.Y, v.Z) }

// ImuLine is what a peer prints for a received robot::Imu: every field.
func ImuLine(p *robot.Imu, hdrSeq uint64, from string) string {
	var raw []string
	for i := range p.Raw {
		for j := range p.Raw[i] {
			raw = append(raw, fmt.Sprint(p.Raw[i][j]))
		}
	}
	last := "-"
	if n := p.Points.Len(); n > 0 {
		last = f3(*p.Points.At(n - 1))
	}
	cal := 0
	if p.Calibrated {
		cal = 1
	}
	return fmt.Sprintf("recv seq=%d from=%s stamp_ns=%d mode=%s calibrated=%d frame=%s accel=%s gyro=%s raw=%s status=%d temperature=%.3f points=%d last=%s",
		hdrSeq, from, p.StampNs, p.Mode, cal, p.Frame.String(), f3(p.Accel), f3(p.Gyro), strings.Join(raw, ","),
		p.Status, p.Temperature, p.Points.Len(), last)
}

// WantImuLine is the line a peer prints for sample seq from publisher from.
func WantImuLine(seq uint64, from string) string {
	var p robot.Imu
	FillImu(&p, seq)
	return ImuLine(&p, seq, from)
}

// pointsLens are the slice lengths of robot/points samples (its publishers
// allow up to 1024 elements), by sequence number modulo 6.
var pointsLens = [6]int{1, 7, 1000, 1024, 3, 64}

// PointsLen is the number of points of sample seq.
func PointsLen(seq uint64) int { return pointsLens[seq%6] }

// PointsElem is element i of the points sample seq.
func PointsElem(seq uint64, i int) robot.Vec3 {
	return robot.Vec3{X: float64(seq)*10000 + float64(i), Y: -float64(i), Z: 0.25 * float64(i)}
}

// PointsStamp is the user header of the points sample seq.
func PointsStamp(seq uint64) robot.Stamp {
	return robot.Stamp{StampNs: 2_000_000_000 + seq*100 + 3, Seq: uint32(seq), SensorId: 42}
}

// PointsLine is what a peer prints for a received points sample.
func PointsLine(hdrSeq uint64, from string, st robot.Stamp, pts []robot.Vec3) string {
	last := "-"
	if len(pts) > 0 {
		last = f3(pts[len(pts)-1])
	}
	return fmt.Sprintf("recv seq=%d from=%s len=%d stamp_ns=%d hdr_seq=%d sensor_id=%d last=%s",
		hdrSeq, from, len(pts), st.StampNs, st.Seq, st.SensorId, last)
}

// WantPointsLine is the line a peer prints for points sample seq.
func WantPointsLine(seq uint64, from string) string {
	pts := make([]robot.Vec3, PointsLen(seq))
	for i := range pts {
		pts[i] = PointsElem(seq, i)
	}
	return PointsLine(seq, from, PointsStamp(seq), pts)
}

// PlanGoal is the goal of request r of a plan client.
func PlanGoal(r int) robot.Vec3 {
	f := float64(r + 1)
	return robot.Vec3{X: f, Y: -2 * f, Z: 0.5 * f}
}

// PlanWaypoint is the waypoint of step i of the plan to goal g.
func PlanWaypoint(g robot.Vec3, i int) robot.Vec3 {
	f := float64(i + 1)
	return robot.Vec3{X: g.X * f, Y: g.Y * f, Z: g.Z*f + 0.125}
}
